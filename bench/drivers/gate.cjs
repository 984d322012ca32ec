// Evaluate one bench gate with the Node package, as a deploy script would (bench/run).
//   GATEPOST_NODE_PKG=crates/node node gate.cjs SERVICE CONFIG_PATH API_URL TIMEOUT_SECONDS
// Exits with the outcome's exit code. Keys come from DD_API_KEY / DD_APP_KEY.
'use strict';
const { evaluate } = require(process.env.GATEPOST_NODE_PKG || '@gatepost/node');

const [service, configPath, apiUrl, timeout] = process.argv.slice(2);
evaluate({ service, env: 'bench', configPath, apiUrl, timeout: Number(timeout), onEvent: () => {} }).then(
  (outcome) => {
    process.exitCode = outcome.exit_code;
  },
  (error) => {
    console.error(error.message);
    process.exitCode = 2;
  },
);
