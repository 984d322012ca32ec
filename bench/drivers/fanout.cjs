// N concurrent evaluations from one Node process with @gatepost/node (bench/run's fan-out).
//   GATEPOST_NODE_PKG=crates/node node fanout.cjs N SERVICE CONFIG_PATH API_URL TIMEOUT_SECONDS
// Prints "passed=P other=O" and exits 0 only when every evaluation passed.
'use strict';
const { readFileSync } = require('node:fs');
const { evaluate } = require(process.env.GATEPOST_NODE_PKG || '@gatepost/node');

const [n, service, configPath, apiUrl, timeout] = process.argv.slice(2);
const config = readFileSync(configPath, 'utf8');
const runs = Array.from({ length: Number(n) }, () =>
  evaluate({ service, env: 'bench', config, apiUrl, timeout: Number(timeout), onEvent: () => {} }),
);
Promise.all(runs).then((outcomes) => {
  const passed = outcomes.filter((o) => o.exit_code === 0).length;
  console.log(`passed=${passed} other=${outcomes.length - passed}`);
  process.exitCode = passed === outcomes.length ? 0 : 1;
});
