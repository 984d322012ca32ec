// The JS driver's tests, once for both back ends: @gatepost/node (the napi addon) and
// @gatepost/wasm (the WebAssembly engine in Node) run the same host driver (src-ts/driver.ts)
// around their engines, so they must behave the same against the same fake API on loopback:
// outcomes, events, cancellation and resume, start/check, the HTTP mapping (redirects, body cap,
// timeouts, transport errors), option handling, errors, and keys never leaking.
//
// Each package's test/driver.test.mjs calls `driverSuite` with its module, then adds the cases
// that differ by design (the Node package's configPath and CommonJS entry, for one).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { API_KEY, APP_KEY, startFakeApi } from './fake-api.mjs';

export { API_KEY, APP_KEY };

/** Fail when a key shows up in `value` (a string, or anything JSON can show). */
export function noKeys(what, value) {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  assert.ok(!text.includes(API_KEY) && !text.includes(APP_KEY), `a key leaked into ${what}`);
}

/** Abort once the first `retrying` event arrives: proves what the driver fed, without waiting. */
function abortOnRetry(events) {
  const controller = new AbortController();
  return {
    signal: controller.signal,
    onEvent(event) {
      events.push(event);
      if (event.type === 'retrying') controller.abort();
    },
  };
}

/**
 * Register the shared driver tests for one back end.
 *
 * @param {object} options
 * @param {string} options.backend `native` or `wasm`, for the messages
 * @param {object} options.gatepost the package's module (`evaluate`, `Engine`, ...)
 * @returns {{ api: () => { url: string, stats: object }, base: () => object }} the running fake
 *   API and the options every test starts from, for the back end's own tests
 */
export function driverSuite({ backend, gatepost }) {
  const { evaluate, resume, start, check, Engine, GatepostError, validate, renderText, renderMarkdown, renderOnlineReport } = gatepost;
  let api;
  before(async () => (api = await startFakeApi()));
  after(() => api.close());
  const base = () => ({ env: 'prod', apiUrl: api.url, apiKey: API_KEY, appKey: APP_KEY, pollInterval: 1, seed: 1 });
  const on = `(${backend})`;

  test(`a passing gate resolves with a pass outcome and reports events ${on}`, async () => {
    const events = [];
    const outcome = await evaluate({ ...base(), service: 'pass', onEvent: (e) => events.push(e) });
    assert.equal(outcome.verdict, 'pass');
    assert.equal(outcome.cause, 'gate_passed');
    assert.equal(outcome.exit_code, 0);
    assert.equal(outcome.snapshot, undefined);
    assert.match(outcome.evaluation_id, /^[0-9a-f-]{36}$/);
    assert.equal(events[0].type, 'started');
    assert.equal(events[0].evaluation_id, outcome.evaluation_id);
    assert.ok(events.every((e) => typeof e.message === 'string'));
    noKeys('the outcome', outcome);
    noKeys('the events', events);
    noKeys('the text report', renderText(outcome));
    assert.ok(renderMarkdown(outcome).length > 0);
  });

  test(`a failing gate resolves (never rejects) with a fail outcome ${on}`, async () => {
    const outcome = await evaluate({ ...base(), service: 'fail' });
    assert.equal(outcome.verdict, 'fail');
    assert.equal(outcome.cause, 'gate_failed');
    assert.equal(outcome.exit_code, 1);
    assert.equal(outcome.rules[0].status, 'fail');
    assert.equal(outcome.rules[0].reason, 'One monitor in ALERT state');
  });

  test(`a dry-run gate passes and says it would have failed ${on}`, async () => {
    const outcome = await evaluate({ ...base(), service: 'dry' });
    assert.equal(outcome.verdict, 'pass');
    assert.equal(outcome.cause, 'dry_run');
    assert.equal(outcome.would_fail, true);
  });

  test(`in_progress keeps polling until the result ${on}`, async () => {
    const progress = [];
    const outcome = await evaluate({ ...base(), service: 'slow', onEvent: (e) => e.type === 'progress' && progress.push(e) });
    assert.equal(outcome.cause, 'gate_passed');
    assert.ok(outcome.requests >= 4, `requests: ${outcome.requests}`);
    assert.ok(progress.length >= 1);
  });

  test(`a 503 with Retry-After on the trigger is retried ${on}`, async () => {
    const events = [];
    const outcome = await evaluate({ ...base(), service: 'flaky', onEvent: (e) => events.push(e) });
    assert.equal(outcome.cause, 'gate_passed');
    assert.equal(api.stats.triggersBy.flaky, 2, 'the refused trigger was sent again');
    const retry = events.find((e) => e.type === 'retrying');
    assert.equal(retry?.status, 503);
    assert.equal(retry?.phase, 'trigger');
  });

  test(`a redirect is a client error and is not followed ${on}`, async () => {
    const outcome = await evaluate({ ...base(), service: 'redirect' });
    assert.equal(outcome.cause, 'client_error');
    assert.equal(outcome.verdict, 'fail');
    assert.equal(outcome.error?.status, 307);
  });

  test(`a browser's opaque redirect (status 0) reaches the engine as a 3xx client error ${on}`, async () => {
    const opaque = async () => ({ type: 'opaqueredirect', status: 0, ok: false, headers: new Headers(), body: null, arrayBuffer: async () => new ArrayBuffer(0) });
    const outcome = await evaluate({ ...base(), service: 'pass', fetch: opaque });
    assert.equal(outcome.cause, 'client_error');
    assert.equal(outcome.error?.status, 302);
  });

  test(`wrong keys: a client error whose details never hold the keys ${on}`, async () => {
    const refused = api.stats.badKeys;
    const outcome = await evaluate({ ...base(), service: 'pass', apiKey: 'wrong-api-key', appKey: APP_KEY });
    assert.equal(outcome.cause, 'client_error');
    assert.equal(outcome.error?.status, 403);
    assert.equal(api.stats.badKeys, refused + 1);
    noKeys('the outcome', outcome);
  });

  test(`a response body above max_body_bytes is a body_too_large transport error ${on}`, async () => {
    const events = [];
    const outcome = await evaluate({ ...base(), service: 'huge', ...abortOnRetry(events) });
    assert.equal(outcome.cause, 'cancelled');
    const retry = events.find((e) => e.type === 'retrying');
    assert.match(JSON.stringify(retry), /body_too_large|larger than/);
  });

  test(`a hung request is abandoned after the request timeout ${on}`, async () => {
    const events = [];
    const t0 = Date.now();
    const outcome = await evaluate({ ...base(), service: 'hang', requestTimeout: 1, ...abortOnRetry(events) });
    assert.equal(outcome.cause, 'cancelled');
    assert.ok(Date.now() - t0 < 10_000);
    assert.match(JSON.stringify(events.find((e) => e.type === 'retrying')), /timeout|timed out/);
  });

  test(`a refused connection is a connect error, retried ${on}`, async () => {
    const events = [];
    const outcome = await evaluate({ ...base(), apiUrl: 'http://127.0.0.1:9', service: 'pass', ...abortOnRetry(events) });
    assert.equal(outcome.cause, 'cancelled');
    assert.match(JSON.stringify(events.find((e) => e.type === 'retrying')), /connect|ECONNREFUSED/);
  });

  test(`a runtime error message that quotes a header value never carries a key ${on}`, async () => {
    const events = [];
    const quoting = async (_url, init) => {
      throw new TypeError(`invalid header value ${init.headers.get('dd-api-key')}`);
    };
    const outcome = await evaluate({ ...base(), service: 'pass', fetch: quoting, ...abortOnRetry(events) });
    assert.ok(events.some((e) => e.type === 'retrying'), 'the failure reached the engine');
    noKeys('the events', events);
    noKeys('the outcome', outcome);
  });

  test(`abort resolves with a cancelled outcome and a snapshot that resumes to the result ${on}`, async () => {
    const controller = new AbortController();
    const events = [];
    const cancelled = await evaluate({
      ...base(),
      service: 'slow',
      signal: controller.signal,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'started') setTimeout(() => controller.abort(), 20);
      },
    });
    assert.equal(cancelled.cause, 'cancelled');
    assert.equal(cancelled.exit_code, 130);
    assert.equal(typeof cancelled.snapshot, 'string');
    noKeys('the snapshot', cancelled.snapshot);
    noKeys('the events', events);
    const outcome = await resume(cancelled.snapshot, { apiKey: API_KEY, appKey: APP_KEY });
    assert.equal(outcome.cause, 'gate_passed');
    assert.equal(outcome.evaluation_id, cancelled.evaluation_id);
  });

  test(`abort wakes a hung request at once ${on}`, async () => {
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

  test(`an already aborted signal cancels before any request ${on}`, async () => {
    const triggers = api.stats.triggers;
    const outcome = await evaluate({ ...base(), service: 'pass', signal: AbortSignal.abort() });
    assert.equal(outcome.cause, 'cancelled');
    assert.equal(api.stats.triggers, triggers);
  });

  test(`start returns after the trigger; check finishes without sleeping ${on}`, async () => {
    const started = await start({ ...base(), service: 'slow' });
    assert.equal(started.done, false);
    assert.match(started.evaluationId, /^[0-9a-f-]{36}$/);
    assert.equal(typeof started.nextCheckAt, 'number');
    noKeys('the start snapshot', started.snapshot);
    let state = started;
    for (let i = 0; i < 20 && !state.done; i++) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, state.nextCheckAt - Date.now())));
      const t0 = Date.now();
      state = await check(state.snapshot, { apiKey: API_KEY, appKey: APP_KEY });
      assert.ok(Date.now() - t0 < 1000, 'check never sleeps');
    }
    assert.equal(state.done, true);
    assert.equal(state.outcome.cause, 'gate_passed');
  });

  test(`check hands back a snapshot taken mid-request instead of waiting for a response that cannot come ${on}`, async () => {
    const t0 = Date.now();
    const engine = new Engine({ service: 'slow', env: 'prod', apiUrl: api.url, apiKey: API_KEY, appKey: APP_KEY, seed: 1, requestTimeout: 5 }, t0);
    const trigger = engine.poll(t0);
    assert.equal(trigger.type, 'send_request');
    const midRequest = engine.snapshot();
    const first = await check(midRequest, { apiKey: API_KEY, appKey: APP_KEY });
    assert.ok(Date.now() - t0 < 1_000, 'check did not wait for the lost request');
    assert.equal(first.done, false);
    assert.ok(first.nextCheckAt >= t0 + 4_000, 'the next check is when the lost request expires');
  });

  test(`the host supplies the time (Unix-epoch ms) and a random seed below 2^53 ${on}`, async () => {
    const { seed: _seed, ...options } = { ...base(), service: 'slow' };
    const t0 = Date.now();
    const first = await start(options);
    const second = await start(options);
    const t1 = Date.now();
    const a = JSON.parse(first.snapshot);
    const b = JSON.parse(second.snapshot);
    assert.ok(a.started_at >= t0 && a.started_at <= t1, `started_at ${a.started_at} is Date.now()`);
    for (const { seed } of [a, b]) assert.ok(Number.isSafeInteger(seed) && seed >= 0, `seed ${seed}`);
    assert.notEqual(a.seed, b.seed, 'each evaluation draws its own seed');
  });

  test(`100 concurrent evaluations in one process ${on}`, async () => {
    const services = Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? 'pass' : 'fail'));
    const outcomes = await Promise.all(services.map((service, i) => evaluate({ ...base(), service, seed: i })));
    outcomes.forEach((o, i) => assert.equal(o.verdict, services[i]));
    assert.equal(new Set(outcomes.map((o) => o.evaluation_id)).size, services.length);
  });

  test(`keys and site default from the environment as on the CLI ${on}`, async () => {
    const saved = { ...process.env };
    try {
      process.env.DD_API_KEY = API_KEY;
      process.env.DATADOG_APP_KEY = APP_KEY;
      const { apiKey: _a, appKey: _b, ...rest } = base();
      const outcome = await evaluate({ ...rest, service: 'pass' });
      assert.equal(outcome.cause, 'gate_passed');
    } finally {
      for (const k of ['DD_API_KEY', 'DATADOG_APP_KEY']) if (saved[k] === undefined) delete process.env[k];
    }
  });

  test(`a custom fetch is used for every request ${on}`, async () => {
    const urls = [];
    const counting = (url, init) => {
      urls.push(url);
      return fetch(url, init);
    };
    const outcome = await evaluate({ ...base(), service: 'pass', fetch: counting });
    assert.equal(outcome.cause, 'gate_passed');
    assert.ok(urls.length >= 2);
    assert.equal(urls.length, outcome.requests);
  });

  test(`invalid options and config reject with GatepostError carrying every problem ${on}`, async () => {
    await assert.rejects(evaluate({ ...base(), service: 'pass', primaryTg: 'x' }), (e) => {
      assert.ok(e instanceof GatepostError);
      assert.equal(e.code, 'invalid_options');
      assert.equal(e.problems[0].path, 'primaryTg');
      noKeys('the error', { message: e.message, problems: e.problems, stack: e.stack });
      return true;
    });
    await assert.rejects(evaluate({ ...base(), service: 'pass', pollIntervall: 3, timeout: -1 }), (error) => {
      assert.ok(error instanceof GatepostError);
      assert.ok(error instanceof Error);
      assert.equal(error.code, 'invalid_options');
      assert.deepEqual(error.problems.map((p) => p.path).sort(), ['pollIntervall', 'timeout']);
      noKeys('the error', error.message + JSON.stringify(error.problems));
      return true;
    });
    await assert.rejects(
      evaluate({ ...base(), service: 'pass', config: '{"rules": [{"type": "monitor", "name": "m", "options": {"duration": 9000}}]}' }),
      (e) => e instanceof GatepostError && e.code === 'invalid_config' && e.problems.length >= 2 && e.problems.every((p) => typeof p.line === 'number'),
    );
    await assert.rejects(evaluate({ ...base(), service: 'pass', config: { rules: [] } }), (error) => {
      assert.equal(error.code, 'invalid_config');
      assert.equal(error.problems[0].path, 'rules');
      return true;
    });
    await assert.rejects(evaluate(null), (error) => error instanceof GatepostError && error.code === 'invalid_options');
  });

  test(`the Engine class: misuse throws GatepostError and leaves the state untouched ${on}`, () => {
    const engine = new Engine({ service: 'checkout', env: 'prod', apiKey: API_KEY, appKey: APP_KEY, seed: 3 }, 1_000);
    const first = engine.poll(1_000);
    assert.equal(first.type, 'send_request');
    assert.equal(typeof first.request_id, 'number');
    assert.equal(engine.poll(1_000).type, 'wait');
    const before = engine.snapshot();
    assert.throws(
      () => engine.handle({ type: 'response', request_id: 99, status: 200, headers: [], body: '' }, 1_001),
      (error) => error instanceof GatepostError && error.code === 'unknown_request',
    );
    assert.throws(() => engine.handle({ type: 'nonsense' }, 1_001), (error) => error instanceof GatepostError && error.code === 'invalid_input');
    assert.throws(() => engine.poll(Number.NaN), (error) => error.code === 'invalid_input');
    assert.equal(engine.snapshot(), before);
    noKeys('the snapshot', before);
    assert.equal(engine.evaluationId, undefined);
    assert.throws(() => Engine.resume('{not json', API_KEY, APP_KEY, 1_002), (error) => error instanceof GatepostError && error.code === 'invalid_snapshot');
    assert.throws(() => Engine.resume('not json', undefined, undefined, 0), (error) => error.code === 'invalid_snapshot');
    const resumed = Engine.resume(before, API_KEY, APP_KEY, 1_002);
    assert.equal(resumed.poll(1_002).type, 'wait', 'the resumed engine still awaits its request');
  });

  test(`values that are not JSON (undefined, BigInt, functions, cycles) are GatepostErrors too ${on}`, () => {
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

  test(`Engine.attach polls an existing evaluation without a trigger ${on}`, () => {
    const id = 'e9d2f04f-4f4b-494b-86e5-52f03e10c8e9';
    const engine = Engine.attach(id, { service: 'checkout', env: 'prod', apiKey: API_KEY, appKey: APP_KEY, seed: 1 }, 0);
    const action = engine.poll(0);
    assert.equal(action.type, 'send_request');
    assert.equal(action.method, 'GET');
    assert.ok(action.url.endsWith(`/evaluation/${id}`));
    assert.equal(engine.evaluationId, id);
  });

  test(`validate lists every problem with its path; valid configs give the configuration ${on}`, () => {
    const bad = validate({ rules: [{ type: 'moniter', name: 'm', options: {} }], dryrun: true });
    assert.equal(bad.valid, false);
    assert.ok(bad.problems.length >= 2);
    assert.ok(bad.problems.every((p) => typeof p.path === 'string' && typeof p.message === 'string'));
    assert.equal(bad.configuration, undefined);
    const empty = validate({ rules: [] });
    assert.equal(empty.valid, false);
    assert.equal(empty.problems[0].path, 'rules');
    const good = validate('{"dryRun": true, "rules": [{"type": "monitor", "name": "m", "options": {"query": "env:prod"}}]}');
    assert.equal(good.valid, true);
    assert.equal(good.configuration.dry_run, true);
    assert.equal(good.configuration.rules[0].type, 'monitor');
  });

  test(`validation results' hints name options as JavaScript spells them, as thrown errors do ${on}`, () => {
    const config = { rules: [{ type: 'monitor', name: 'm', options: { query: 'env:prod', newKey: 1 } }] };
    const strict = validate(config);
    assert.equal(strict.valid, false);
    const [problem] = strict.problems;
    assert.equal(problem.path, 'rules[0].options.newKey');
    assert.match(problem.hint, /`allowUnknownKeys`/);
    assert.doesNotMatch(JSON.stringify(strict), /allow_unknown_keys`/);
    const lenient = validate(config, { allowUnknownKeys: true });
    assert.equal(lenient.valid, true);
    assert.equal(lenient.warnings.length, 1);
    assert.doesNotMatch(lenient.warnings[0].hint ?? '', /allow_unknown_keys/);
  });

  test(`renderText and renderMarkdown render an outcome as the CLI does ${on}`, async () => {
    const outcome = await evaluate({ ...base(), service: 'fail' });
    const text = renderText(outcome);
    assert.ok(text.length > 0);
    assert.ok(!text.includes('\u001b['), 'no colour unless asked');
    assert.ok(renderText(outcome, { color: true }).includes('\u001b['), 'colour when asked');
    assert.ok(renderMarkdown(outcome).includes('Service monitors'));
    assert.throws(() => renderText({ nope: 1 }), (error) => error instanceof GatepostError);
  });


  test(`validate({online: true}) searches monitors and checks FDD rules for APM data ${on}`, async () => {
    const config = {
      rules: [
        { type: 'monitor', name: 'mon', options: { query: 'service:checkout', duration: 300 } },
        { type: 'monitor', name: 'none', options: { query: 'team:none', duration: 300 } },
        { type: 'faulty_deployment_detection', name: 'apm', options: { duration: 900 } },
      ],
    };
    const online = { online: true, apiUrl: api.url, apiKey: API_KEY, appKey: APP_KEY, env: 'prod', version: 'v2', onEvent: () => {} };
    const before = api.stats.searches.length;
    const report = await validate(config, { ...online, service: 'checkout' });
    assert.deepEqual(api.stats.searches.slice(before), [
      '/api/v1/monitor/search?query=%28service%3Acheckout%29%20muted%3Afalse&page=0&per_page=100',
      '/api/v1/monitor/search?query=%28team%3Anone%29%20muted%3Afalse&page=0&per_page=100',
      '/api/v2/spans/events?filter[query]=service%3A%22checkout%22%20env%3A%22prod%22&filter[from]=now-24h&filter[to]=now&page[limit]=1',
      '/api/v2/spans/events?filter[query]=service%3A%22checkout%22%20env%3A%22prod%22%20version%3A%22v2%22&filter[from]=now-24h&filter[to]=now&page[limit]=1',
    ]);
    assert.equal(report.ok, false);
    assert.deepEqual(report.problems.map((p) => p.path), ['rules[1].options.query']);
    assert.deepEqual(report.rules[2].apm, { service: 'checkout', env: 'prod', window: '24h', service_data: true, version: 'v2', version_data: false });
    assert.deepEqual(report.warnings, []);
    assert.match(renderOnlineReport(report), /rules\[2\] faulty_deployment_detection "apm": APM data for service checkout in env prod in the last 24h; none yet for version v2/);
    noKeys('the online report', report);

    const fdd = { rules: [config.rules[2]] };
    const missing = await validate(fdd, { ...online, service: 'payments' });
    assert.equal(missing.ok, true);
    assert.deepEqual(missing.warnings.map((w) => w.path), ['rules[0]']);
    assert.match(missing.warnings[0].message, /^no APM data for service payments in env prod in the last 24h \(nor for version v2\): Faulty Deployment Detection has nothing to compare/);
    const refused = await validate(fdd, { ...online, service: 'noscope' });
    assert.equal(refused.rules[0].status, 'skipped');
    assert.match(refused.warnings[0].message, /apm_read/);

    await assert.rejects(validate(fdd, { ...online, service: 'checkout', identifier: 'x' }), (e) => e instanceof GatepostError && e.code === 'invalid_options');
    await assert.rejects(
      validate({ rules: [{ type: 'monitor', name: 'x', options: {} }] }, online),
      (e) => e instanceof GatepostError && e.code === 'invalid_config',
    );
  });
  return { api: () => api, base };
}
