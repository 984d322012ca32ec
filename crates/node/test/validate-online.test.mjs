// validate(config, {online: true}) from Node: core's online check driven by the shared fetch loop,
// against the emulator serving examples/worlds/validate-online.json (a rule that is fine, one
// alerting now, one over 50 matches, one with none; a preconfigured gate).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { validate, renderOnlineReport } from '../dist/index.mjs';
import { ROOT, emulatorAvailable, startEmulator, world } from './emulator.mjs';

const skip = emulatorAvailable() ? false : 'target/debug/gatepost is missing: cargo build -p gatepost';
const CONFIG = readFileSync(path.join(ROOT, 'examples/validate-online/gate-config.json'), 'utf8');

test('zero matches, over fifty and alerting now are caught; a gate is read by filter', { skip }, async () => {
  const emu = await startEmulator(world('validate-online'));
  try {
    const report = await validate(CONFIG, { online: true, apiUrl: emu.url });
    assert.deepEqual(report.rules.map((r) => r.matched), [2, 2, 60, 0]);
    assert.deepEqual(report.problems.map((p) => p.path), ['rules[2].options.query', 'rules[3].options.query']);
    assert.match(report.problems[0].message, /^60 monitors match this query/);
    assert.equal(report.rules[1].would_fail_now, true);
    assert.equal(report.ok, false);
    assert.match(renderOnlineReport(report, 'markdown'), /\| `rules\[1\]` Payments monitors \| monitor \| 2 \| \*\*yes\*\* \|/);

    const gate = await validate(undefined, { online: true, service: 'payments', env: 'prod', apiUrl: emu.url });
    assert.equal(gate.source, 'gate');
    assert.equal(gate.rules[0].would_fail_now, true);
    assert.equal(gate.problems[0].path, 'rules[1].options.query');

    const clean = await validate({ rules: [{ type: 'monitor', name: 'c', options: { query: 'service:checkout' } }] }, { online: true, apiUrl: emu.url });
    assert.equal(clean.ok, true);
    assert.equal(clean.requests, 1);
  } finally {
    await emu.stop();
  }
});

test('an invalid config rejects before any request; offline validate is unchanged', async () => {
  await assert.rejects(
    validate({ rules: [{ type: 'monitor', name: 'x', options: {} }] }, { online: true, apiUrl: 'http://127.0.0.1:9' }),
    (e) => e.code === 'invalid_config',
  );
  assert.equal(validate(CONFIG).valid, true);
});

test('FDD rules: APM data for checkout, a located warning for payments (no APM data)', { skip }, async () => {
  const emu = await startEmulator(world('validate-online'));
  const fdd = readFileSync(path.join(ROOT, 'examples/validate-online/fdd-config.json'), 'utf8');
  try {
    const options = { online: true, apiUrl: emu.url, env: 'prod', version: 'v1' };
    const has = await validate(fdd, { ...options, service: 'checkout' });
    assert.equal(has.ok, true);
    assert.deepEqual(has.warnings, []);
    assert.deepEqual(has.rules[1].apm, { service: 'checkout', env: 'prod', window: '24h', service_data: true, version: 'v1', version_data: true });
    const none = await validate(fdd, { ...options, service: 'payments' });
    assert.equal(none.ok, true);
    assert.deepEqual(none.warnings.map((w) => [w.path, w.line]), [['rules[1]', 12]]);
    assert.match(none.warnings[0].message, /^no APM data for service payments in env prod/);
    const gate = await validate(undefined, { online: true, service: 'checkout', env: 'prod', apiUrl: emu.url });
    assert.equal(gate.rules[1].apm.service_data, true);
  } finally {
    await emu.stop();
  }
});
