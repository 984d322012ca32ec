// Preloaded into the datadog-ci process (NODE_OPTIONS=--require) by scripts/suites/30-emulator.sh:
// resolves the one host name in GATEPOST_LOOPBACK_HOST (e.g. api.gatepost.test) to 127.0.0.1,
// like an /etc/hosts entry scoped to this process — no root, nothing changed on the machine.
// The datadog-ci package itself runs unmodified.
'use strict';
const dns = require('dns');

const host = process.env.GATEPOST_LOOPBACK_HOST;
const lookup = dns.lookup;

dns.lookup = function lookupLoopback(hostname, options, callback) {
  if (!host || hostname !== host) {
    return lookup.apply(this, arguments);
  }
  if (typeof options === 'function') {
    callback = options;
    options = {};
  }
  if (typeof options === 'number') {
    options = { family: options };
  }
  if (options && options.all) {
    process.nextTick(callback, null, [{ address: '127.0.0.1', family: 4 }]);
  } else {
    process.nextTick(callback, null, '127.0.0.1', 4);
  }
  return undefined;
};
