// The environment rules shared with every host (tests/env/cases.json, crates/core/src/environment.rs)
// through a JS back end's envDefaults and proxyFor, and end to end: a key ending in a newline (a
// mounted secret file) passes the gate; config warnings are shown by default. Run by
// @gatepost/node (test/env.test.mjs) and @gatepost/wasm (its test/env.test.mjs) alike.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startFakeApi, API_KEY, APP_KEY } from './fake-api.mjs';

const cases = JSON.parse(readFileSync(new URL('../../../../tests/env/cases.json', import.meta.url), 'utf8'));
const camel = { api_key: 'apiKey', app_key: 'appKey', site: 'site' };

/** Register the environment tests for one back end (`gatepost` is the package's module). */
export function envSuite({ gatepost }) {
  const { evaluate, envDefaults, proxyFor } = gatepost;

  let api;
  before(async () => (api = await startFakeApi()));
  after(() => api.close());

  for (const c of cases.defaults) {
    test(`envDefaults: ${c.name}`, () => {
      const expected = Object.fromEntries(Object.entries(c.expect).map(([k, v]) => [camel[k], v]));
      assert.deepEqual(envDefaults(c.env), expected);
    });
  }

  for (const c of cases.proxy) {
    test(`proxyFor: ${c.name}`, () => {
      assert.equal(proxyFor(c.url, c.env) ?? null, c.expect);
    });
  }

  /** Run `f` with these variables set (and the key variables cleared), restoring the environment. */
  async function withEnv(vars, f) {
    const names = ['DATADOG_API_KEY', 'DD_API_KEY', 'DATADOG_APP_KEY', 'DD_APP_KEY', 'DD_APPLICATION_KEY', ...Object.keys(vars)];
    const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
    for (const n of names) delete process.env[n];
    Object.assign(process.env, vars);
    try {
      return await f();
    } finally {
      for (const [n, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[n];
        else process.env[n] = v;
      }
    }
  }

  test('a key ending in a newline (a mounted secret file) passes the gate', async () => {
    const outcome = await withEnv({ DD_API_KEY: `${API_KEY}\n`, DD_APP_KEY: `  ${APP_KEY}\n` }, () =>
      evaluate({ service: 'pass', env: 'prod', apiUrl: api.url, pollInterval: 1, seed: 1 }),
    );
    assert.equal(outcome.cause, 'gate_passed');
    assert.equal(outcome.exit_code, 0);
  });

  test('config warnings are shown on the console unless onEvent takes the events', async () => {
    const options = {
      service: 'pass',
      env: 'prod',
      apiUrl: api.url,
      apiKey: API_KEY,
      appKey: APP_KEY,
      pollInterval: 1,
      seed: 1,
      allowUnknownKeys: true,
      config: { rules: [{ type: 'monitor', name: 'm', options: { query: 'env:prod', duration: 0, newer_option: 1 } }] },
    };
    const shown = [];
    const warn = console.warn;
    console.warn = (...args) => shown.push(args.join(' '));
    try {
      assert.equal((await evaluate(options)).cause, 'gate_passed');
      assert.ok(shown.some((line) => /^gatepost: config: .*newer_option/.test(line)), shown.join('\n'));
      assert.ok(!shown.some((line) => /config warning/.test(line)), shown.join('\n'));
      const before = shown.length;
      const events = [];
      assert.equal((await evaluate({ ...options, onEvent: (e) => events.push(e) })).cause, 'gate_passed');
      assert.equal(shown.length, before, 'onEvent takes the events over');
      assert.ok(events.some((e) => e.type === 'warning'));
    } finally {
      console.warn = warn;
    }
  });

  test('options errors of evaluate speak the JavaScript option names', async () => {
    const options = { service: 's', env: 'e', site: 'datadoghq.com', apiUrl: api.url, apiKey: API_KEY, appKey: APP_KEY };
    await assert.rejects(evaluate(options), (e) => {
      assert.equal(e.code, 'invalid_options');
      assert.match(e.message, /give either site or apiUrl/);
      assert.doesNotMatch(e.message, /api_url/);
      assert.ok(e.problems.some((p) => p.path === 'apiUrl'), JSON.stringify(e.problems));
      return true;
    });
  });
}
