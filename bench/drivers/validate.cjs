// Validate a config file offline with the Node package (bench/run): exit 0 valid, 2 invalid.
//   GATEPOST_NODE_PKG=crates/node node validate.cjs CONFIG_PATH
'use strict';
const { readFileSync } = require('node:fs');
const { validate } = require(process.env.GATEPOST_NODE_PKG || '@gatepost/node');

const result = validate(readFileSync(process.argv[2], 'utf8'), { version: 'v1' });
console.log(`${result.problems.length} problem(s)`);
process.exitCode = result.valid ? 0 : 2;
