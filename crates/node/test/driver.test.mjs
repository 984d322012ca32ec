// The JS driver on the native back end: the shared suite (test/shared/driver-suite.mjs, also run
// by @gatepost/wasm), then what only this package has: the CommonJS entry and configPath.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as gatepost from '../dist/index.mjs';
import { driverSuite } from './shared/driver-suite.mjs';

const { evaluate, GatepostError } = gatepost;
const { base } = driverSuite({ backend: 'native', gatepost });

test('ESM and CommonJS entry points share one module', () => {
  const cjs = createRequire(import.meta.url)('../dist/index.js');
  assert.equal(cjs.evaluate, evaluate);
  assert.equal(cjs.GatepostError, GatepostError);
  assert.equal(typeof gatepost.default.evaluate, 'function');
});

test('configPath reads the config file; config and configPath together are refused', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatepost-node-'));
  const file = path.join(dir, 'gate.json');
  writeFileSync(file, JSON.stringify({ rules: [{ type: 'monitor', name: 'm', options: { query: 'env:prod', duration: 0 } }] }));
  const outcome = await evaluate({ ...base(), service: 'pass', configPath: file });
  assert.equal(outcome.cause, 'gate_passed');
  await assert.rejects(evaluate({ ...base(), service: 'pass', configPath: file, config: '{}' }), (e) => e instanceof GatepostError && e.code === 'invalid_options');
  await assert.rejects(evaluate({ ...base(), service: 'pass', configPath: path.join(dir, 'missing.json') }), (e) => e instanceof GatepostError && e.problems[0].path === 'configPath');
  // Found by the hardening suite: an endless file is refused, not read until memory runs out.
  await assert.rejects(evaluate({ ...base(), service: 'pass', configPath: '/dev/zero' }), (e) => e instanceof GatepostError && e.code === 'invalid_options' && /larger than 16 MiB/.test(e.message));
});
