// The fetch driver end to end against a fake API on loopback: outcomes, events, cancellation and
// resume, start/check, concurrency, option handling, and keys never leaking.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as gatepost from '../dist/index.mjs';
import { startFakeApi, API_KEY, APP_KEY } from './fake-api.mjs';

const { evaluate, resume, start, check, Engine, GatepostError, validate, renderText, renderMarkdown } = gatepost;
let api;
before(async () => (api = await startFakeApi()));
after(() => api.close());

const base = () => ({ env: 'prod', apiUrl: api.url, apiKey: API_KEY, appKey: APP_KEY, pollInterval: 1, seed: 1 });
const noKeys = (what, value) => {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  assert.ok(!text.includes(API_KEY) && !text.includes(APP_KEY), `a key leaked into ${what}`);
};

test('ESM and CommonJS entry points share one module', () => {
  const cjs = createRequire(import.meta.url)('../dist/index.js');
  assert.equal(cjs.evaluate, evaluate);
  assert.equal(cjs.GatepostError, GatepostError);
  assert.equal(typeof gatepost.default.evaluate, 'function');
});

test('a passing gate resolves with a pass outcome and reports events', async () => {
  const events = [];
  const outcome = await evaluate({ ...base(), service: 'pass', onEvent: (e) => events.push(e) });
  assert.equal(outcome.verdict, 'pass');
  assert.equal(outcome.cause, 'gate_passed');
  assert.equal(outcome.exit_code, 0);
  assert.equal(outcome.snapshot, undefined);
  assert.match(outcome.evaluation_id, /^[0-9a-f-]{36}$/);
  assert.equal(events[0].type, 'started');
  assert.ok(events.every((e) => typeof e.message === 'string'));
  noKeys('the outcome', outcome);
  noKeys('the events', events);
  noKeys('the text report', renderText(outcome));
  assert.ok(renderMarkdown(outcome).length > 0);
});

test('a failing gate resolves (never rejects) with a fail outcome', async () => {
  const outcome = await evaluate({ ...base(), service: 'fail' });
  assert.equal(outcome.verdict, 'fail');
  assert.equal(outcome.cause, 'gate_failed');
  assert.equal(outcome.exit_code, 1);
  assert.equal(outcome.rules[0].status, 'fail');
});

test('a dry-run gate passes and says it would have failed', async () => {
  const outcome = await evaluate({ ...base(), service: 'dry' });
  assert.equal(outcome.verdict, 'pass');
  assert.equal(outcome.cause, 'dry_run');
  assert.equal(outcome.would_fail, true);
});

test('in_progress keeps polling until the result', async () => {
  const progress = [];
  const outcome = await evaluate({ ...base(), service: 'slow', onEvent: (e) => e.type === 'progress' && progress.push(e) });
  assert.equal(outcome.cause, 'gate_passed');
  assert.ok(outcome.requests >= 4);
  assert.ok(progress.length >= 1);
});

test('a redirect is a client error and is not followed', async () => {
  const outcome = await evaluate({ ...base(), service: 'redirect' });
  assert.equal(outcome.cause, 'client_error');
  assert.equal(outcome.verdict, 'fail');
  assert.equal(outcome.error?.status, 307);
});

test('wrong keys: a client error whose details never hold the keys', async () => {
  const outcome = await evaluate({ ...base(), service: 'pass', apiKey: 'wrong-api-key', appKey: APP_KEY });
  assert.equal(outcome.cause, 'client_error');
  assert.equal(outcome.error?.status, 403);
  noKeys('the outcome', outcome);
});

test('abort resolves with a cancelled outcome and a snapshot that resumes to the result', async () => {
  const controller = new AbortController();
  const events = [];
  const pending = evaluate({
    ...base(),
    service: 'slow',
    signal: controller.signal,
    onEvent: (e) => {
      events.push(e);
      if (e.type === 'started') setTimeout(() => controller.abort(), 20);
    },
  });
  const cancelled = await pending;
  assert.equal(cancelled.cause, 'cancelled');
  assert.equal(cancelled.exit_code, 130);
  assert.equal(typeof cancelled.snapshot, 'string');
  noKeys('the snapshot', cancelled.snapshot);
  noKeys('the events', events);
  const outcome = await resume(cancelled.snapshot, { apiKey: API_KEY, appKey: APP_KEY });
  assert.equal(outcome.cause, 'gate_passed');
  assert.equal(outcome.evaluation_id, cancelled.evaluation_id);
});

test('abort wakes a hung request at once', async () => {
  const controller = new AbortController();
  const pending = evaluate({
    ...base(),
    service: 'hang',
    requestTimeout: 60,
    signal: controller.signal,
    onEvent: (e) => e.type === 'started' && setTimeout(() => controller.abort(), 100),
  });
  const t0 = Date.now();
  const outcome = await pending;
  assert.equal(outcome.cause, 'cancelled');
  assert.ok(Date.now() - t0 < 5000);
});

test('an already aborted signal cancels before any request', async () => {
  const before = api.stats.triggers;
  const outcome = await evaluate({ ...base(), service: 'pass', signal: AbortSignal.abort() });
  assert.equal(outcome.cause, 'cancelled');
  assert.equal(api.stats.triggers, before);
});

test('start returns after the trigger; check finishes without sleeping', async () => {
  const started = await start({ ...base(), service: 'slow' });
  assert.equal(started.done, false);
  assert.match(started.evaluationId, /^[0-9a-f-]{36}$/);
  noKeys('the start snapshot', started.snapshot);
  let state = started;
  for (let i = 0; i < 20 && !state.done; i++) {
    const wait = Math.max(0, state.nextCheckAt - Date.now());
    await new Promise((r) => setTimeout(r, wait));
    const t0 = Date.now();
    state = await check(state.snapshot, { apiKey: API_KEY, appKey: APP_KEY });
    assert.ok(Date.now() - t0 < 1000, 'check never sleeps');
  }
  assert.equal(state.done, true);
  assert.equal(state.outcome.cause, 'gate_passed');
});

test('100 concurrent evaluations in one process', async () => {
  const services = Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? 'pass' : 'fail'));
  const outcomes = await Promise.all(services.map((service, i) => evaluate({ ...base(), service, seed: i })));
  outcomes.forEach((o, i) => assert.equal(o.verdict, services[i]));
  assert.equal(new Set(outcomes.map((o) => o.evaluation_id)).size, 100);
});

test('keys, site default from the environment as on the CLI', async () => {
  const saved = { ...process.env };
  try {
    process.env.DD_API_KEY = API_KEY;
    process.env.DATADOG_APP_KEY = APP_KEY;
    const { apiKey, appKey, ...rest } = base();
    const outcome = await evaluate({ ...rest, service: 'pass' });
    assert.equal(outcome.cause, 'gate_passed');
  } finally {
    for (const k of ['DD_API_KEY', 'DATADOG_APP_KEY']) if (saved[k] === undefined) delete process.env[k];
  }
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

test('invalid options and config reject with GatepostError carrying every problem', async () => {
  await assert.rejects(evaluate({ ...base(), service: 'pass', primaryTg: 'x' }), (e) => {
    assert.ok(e instanceof GatepostError);
    assert.equal(e.code, 'invalid_options');
    assert.equal(e.problems[0].path, 'primaryTg');
    noKeys('the error', { message: e.message, problems: e.problems, stack: e.stack });
    return true;
  });
  await assert.rejects(
    evaluate({ ...base(), service: 'pass', config: '{"rules": [{"type": "monitor", "name": "m", "options": {"duration": 9000}}]}' }),
    (e) => e instanceof GatepostError && e.code === 'invalid_config' && e.problems.length >= 2 && e.problems.every((p) => typeof p.line === 'number'),
  );
});

test('a custom fetch is used for every request', async () => {
  let calls = 0;
  const outcome = await evaluate({ ...base(), service: 'pass', fetch: (url, init) => (calls++, fetch(url, init)) });
  assert.equal(outcome.cause, 'gate_passed');
  assert.ok(calls >= 2);
});

test('the Engine class: misuse throws GatepostError and leaves the state untouched', () => {
  const engine = new Engine({ service: 's', env: 'e', apiKey: API_KEY, appKey: APP_KEY, seed: 3 }, 1_000);
  const send = engine.poll(1_000);
  assert.equal(send.type, 'send_request');
  assert.equal(engine.poll(1_000).type, 'wait');
  assert.throws(() => engine.handle({ type: 'response', request_id: 99, status: 200 }, 1_001), (e) => e instanceof GatepostError && e.code === 'unknown_request');
  assert.throws(() => engine.handle({ type: 'nonsense' }, 1_001), (e) => e instanceof GatepostError && e.code === 'invalid_input');
  assert.throws(() => Engine.resume('not json', undefined, undefined, 0), (e) => e instanceof GatepostError && e.code === 'invalid_snapshot');
  assert.equal(engine.evaluationId, undefined);
  const snapshot = engine.snapshot();
  noKeys('the snapshot', snapshot);
  const again = Engine.resume(snapshot, API_KEY, APP_KEY, 1_002);
  assert.equal(again.poll(1_002).type, 'wait');
});

test('validate lists every problem with its path; valid configs give the configuration', () => {
  const bad = validate({ rules: [{ type: 'moniter', name: 'm', options: {} }], dryrun: true });
  assert.equal(bad.valid, false);
  assert.ok(bad.problems.length >= 2);
  assert.ok(bad.problems.every((p) => typeof p.path === 'string' && typeof p.message === 'string'));
  assert.equal(bad.configuration, undefined);
  const good = validate('{"dryRun": true, "rules": [{"type": "monitor", "name": "m", "options": {"query": "env:prod"}}]}');
  assert.equal(good.valid, true);
  assert.equal(good.configuration.dry_run, true);
});

test('values that are not JSON (undefined, BigInt, functions, cycles) are GatepostErrors too', () => {
  const is = (code) => (e) => e instanceof GatepostError && e.code === code;
  assert.throws(() => new Engine(undefined, 0), is('invalid_options'));
  const cyclic = { service: 's', env: 'e' };
  cyclic.self = cyclic;
  assert.throws(() => new Engine(cyclic, 0), is('invalid_options'));
  const engine = new Engine({ service: 's', env: 'e', apiUrl: 'http://127.0.0.1:9' }, 0);
  assert.throws(() => engine.handle(undefined, 1), is('invalid_input'));
  assert.throws(() => engine.handle({ type: 'response', request_id: 1n, status: 200 }, 1), is('invalid_input'));
  assert.throws(() => engine.handle({ type: 'timeout' }, Number.NaN), is('invalid_input'));
  assert.throws(() => engine.handle({ type: 'response', request_id: 1.5, status: 200 }, 1), is('invalid_input'));
  assert.throws(() => Engine.resume(engine.snapshot(), undefined, undefined, -1), is('invalid_input'));
});
