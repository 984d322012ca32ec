// N concurrent evaluations from one Node process with @gatepost/node (bench/run's fan-out).
//   GATEPOST_NODE_PKG=crates/node node fanout.cjs N SERVICE CONFIG_PATH API_URL TIMEOUT_SECONDS
// Prints "passed=P other=O" and exits 0 only when every evaluation passed. With
// GATEPOST_FANOUT_DONE=FILE, also writes "EVALUATION_ID DONE_EPOCH_MS" per evaluation to FILE: the
// moment its outcome was in hand (bench/lib/lateness.py reads it).
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { evaluate } = require(process.env.GATEPOST_NODE_PKG || '@gatepost/node');

const [n, service, configPath, apiUrl, timeout] = process.argv.slice(2);
const config = readFileSync(configPath, 'utf8');
const done = [];
const runs = Array.from({ length: Number(n) }, () =>
  evaluate({ service, env: 'bench', config, apiUrl, timeout: Number(timeout), onEvent: () => {} }).then(
    (outcome) => {
      done.push(`${outcome.evaluation_id ?? '-'} ${Date.now()}\n`);
      return outcome;
    },
  ),
);
Promise.all(runs).then((outcomes) => {
  if (process.env.GATEPOST_FANOUT_DONE) writeFileSync(process.env.GATEPOST_FANOUT_DONE, done.join(''));
  const passed = outcomes.filter((o) => o.exit_code === 0).length;
  console.log(`passed=${passed} other=${outcomes.length - passed}`);
  process.exitCode = passed === outcomes.length ? 0 : 1;
});
