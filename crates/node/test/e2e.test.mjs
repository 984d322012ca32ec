// End to end against the real emulator on loopback (time scale 60: a 300 s rule takes 5 s): the
// verdicts, faults in both phases, a hung server, TLS, timeouts, abort + resume, 100 concurrent
// evaluations, the example deploy script, and keys never in any output.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { evaluate, resume, start, check, renderText, renderMarkdown } from '../dist/index.mjs';
import { ROOT, emulatorAvailable, startEmulator, world } from './emulator.mjs';

const API_KEY = 'test-api-key-e2e-51d0c7';
const APP_KEY = 'test-app-key-e2e-a93b6e';
const withKeys = (w) => ({ ...w, api_keys: [API_KEY], app_keys: [APP_KEY] });
const gate = (url, extra = {}) => ({ service: 'checkout', env: 'prod', version: 'v2', apiUrl: url, apiKey: API_KEY, appKey: APP_KEY, pollInterval: 1, ...extra });

/** Every output a user could see: the outcome, its reports, the events. */
function assertNoKeys(what, ...values) {
  for (const value of values) {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    assert.ok(!text.includes(API_KEY) && !text.includes(APP_KEY), `a key leaked into ${what}`);
  }
}

async function run(options) {
  const events = [];
  const outcome = await evaluate({ ...options, onEvent: (e) => events.push(e) });
  assertNoKeys('the outcome, reports or events', outcome, renderText(outcome), renderMarkdown(outcome), events);
  return { outcome, events };
}

/** The healthy world over TLS with a self-signed certificate (made with openssl). */
async function startTlsEmulator() {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(path.join(tmpdir(), 'gatepost-node-tls-'));
  const [cert, key] = [path.join(dir, 'cert.pem'), path.join(dir, 'key.pem')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const emulator = await startEmulator(withKeys(world('healthy')), { extraArgs: ['--tls-cert', cert, '--tls-key', key] });
  return { ...emulator, cert };
}

/** A forward proxy on loopback (CONNECT tunnels and absolute-form requests) that sends every
 * connection to `target` whatever host was asked for, and counts what it carried. */
async function startProxy(target) {
  const { hostname, port } = new URL(target);
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url);
    const upstream = http.request({ host: hostname, port, method: req.method, path: new URL(req.url).pathname, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    });
    req.pipe(upstream);
  });
  server.on('connect', (req, socket, head) => {
    seen.push(`CONNECT ${req.url}`);
    const upstream = net.connect(Number(port), hostname, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, seen, close: () => (server.closeAllConnections(), server.close()) };
}

/** The Python interpreter of the repository's .venv when it has the gatepost package. */
let python;
function pythonGatepost() {
  if (python === undefined) {
    const candidate = path.join(ROOT, '.venv/bin/python');
    try {
      execFileSync(candidate, ['-c', 'import gatepost'], { stdio: 'ignore' });
      python = candidate;
    } catch {
      python = null;
    }
  }
  return python;
}

const skip = emulatorAvailable() ? false : 'target/debug/gatepost is not built (cargo build -p gatepost)';

describe('against the emulator', { concurrency: true, skip }, () => {
  const emulators = {};
  before(async () => {
    const faulty = (faults) => withKeys(world('healthy', (w) => ({ ...w, faults })));
    const started = await Promise.all([
      startEmulator(withKeys(world('healthy'))),
      startEmulator(withKeys(world('alerting'))),
      startEmulator(withKeys(world('dry-run'))),
      startEmulator(faulty({ trigger: [{ kind: 'status', status: 503 }, { kind: 'rate_limited', retry_after: 1 }] })),
      startEmulator(faulty({ result: [{ kind: 'reset' }, { kind: 'garbage' }, { kind: 'status', status: 502 }] })),
      startEmulator(faulty({ result: [{ kind: 'hang', ms: 60_000 }] })),
      startEmulator(withKeys(world('healthy')), { timeScale: 1 }),
      startTlsEmulator(),
    ]);
    [emulators.healthy, emulators.alerting, emulators.dryRun, emulators.triggerFaults, emulators.pollFaults, emulators.hang, emulators.slow, emulators.tls] = started;
  });
  after(() => Promise.all(Object.values(emulators).map((e) => e.stop())));

  test('a healthy version passes', async () => {
    const { outcome, events } = await run(gate(emulators.healthy.url));
    assert.equal(outcome.cause, 'gate_passed', outcome.message);
    assert.equal(outcome.verdict, 'pass');
    assert.equal(outcome.exit_code, 0);
    assert.ok(outcome.rules.length >= 2);
    assert.equal(events[0].type, 'started');
  });

  test('an alerting monitor fails the gate', async () => {
    const { outcome } = await run(gate(emulators.alerting.url));
    assert.equal(outcome.cause, 'gate_failed', outcome.message);
    assert.equal(outcome.exit_code, 1);
    assert.ok(outcome.rules.some((r) => r.status === 'fail' && typeof r.reason === 'string'));
  });

  test('a dry-run gate passes and reports that it would have failed', async () => {
    const { outcome } = await run(gate(emulators.dryRun.url));
    assert.equal(outcome.cause, 'dry_run', outcome.message);
    assert.equal(outcome.verdict, 'pass');
    assert.equal(outcome.would_fail, true);
  });

  test('trigger faults (503, then 429 with Retry-After) are retried, then the gate passes', async () => {
    const { outcome, events } = await run(gate(emulators.triggerFaults.url));
    assert.equal(outcome.cause, 'gate_passed', outcome.message);
    const retries = events.filter((e) => e.type === 'retrying' && e.phase === 'trigger');
    assert.deepEqual(retries.map((e) => e.status), [503, 429]);
  });

  test('poll faults (reset, garbage, 502) are retried, then the gate passes', async () => {
    const { outcome, events } = await run(gate(emulators.pollFaults.url));
    assert.equal(outcome.cause, 'gate_passed', outcome.message);
    const retries = events.filter((e) => e.type === 'retrying' && e.phase === 'poll');
    assert.ok(retries.length >= 3, JSON.stringify(retries));
    assert.ok(retries.some((e) => typeof e.error === 'string' && /reset/i.test(e.error)), JSON.stringify(retries));
  });

  test('a hung poll is cut at the request timeout and retried', async () => {
    const t0 = Date.now();
    const { outcome, events } = await run(gate(emulators.hang.url, { requestTimeout: 1 }));
    assert.equal(outcome.cause, 'gate_passed', outcome.message);
    assert.ok(events.some((e) => e.type === 'retrying' && e.phase === 'poll'));
    assert.ok(Date.now() - t0 < 30_000);
  });

  test('the overall timeout is honoured: fail-open pass, or fail with failOnError', async () => {
    const t0 = Date.now();
    const [open, strict] = await Promise.all([
      run(gate(emulators.slow.url, { timeout: 3 })),
      run(gate(emulators.slow.url, { timeout: 3, failOnError: true })),
    ]);
    assert.ok(Date.now() - t0 < 6_000, 'the timeout is honoured within a second or so');
    assert.equal(open.outcome.cause, 'timeout');
    assert.equal(open.outcome.verdict, 'pass');
    assert.equal(open.outcome.fail_open, true);
    assert.equal(strict.outcome.cause, 'timeout');
    assert.equal(strict.outcome.verdict, 'fail');
  });

  test('wrong keys are a client error, never fail-open, and never echoed', async () => {
    const { outcome } = await run(gate(emulators.healthy.url, { apiKey: 'test-api-key-wrong-00000' }));
    assert.equal(outcome.cause, 'client_error', outcome.message);
    assert.equal(outcome.verdict, 'fail');
    assert.ok(!JSON.stringify(outcome).includes('test-api-key-wrong-00000'));
  });

  test('a certificate that is not trusted is a client error (tls), never fail-open', async () => {
    const { outcome, events } = await run(gate(emulators.tls.url, { requestTimeout: 5 }));
    assert.equal(outcome.cause, 'client_error', outcome.message);
    assert.equal(outcome.verdict, 'fail');
    assert.equal(outcome.fail_open, false);
    assert.equal(events.filter((e) => e.type === 'retrying').length, 0);
  });

  test('HTTP_PROXY is honoured (Node\'s fetch alone ignores it); NO_PROXY bypasses it', async () => {
    const proxy = await startProxy(emulators.healthy.url);
    const port = new URL(emulators.healthy.url).port;
    const saved = { HTTP_PROXY: process.env.HTTP_PROXY, NO_PROXY: process.env.NO_PROXY };
    try {
      process.env.HTTP_PROXY = proxy.url;
      delete process.env.NO_PROXY;
      const via = `http://gatepost-emulator.test:${port}`;
      const { outcome } = await run(gate(via, { allowInsecureHttp: true }));
      assert.equal(outcome.cause, 'gate_passed', outcome.message);
      assert.ok(proxy.seen.length >= 2, JSON.stringify(proxy.seen));
      // A suffix matches on a label boundary only: this one does not cover the host.
      process.env.NO_PROXY = 'emulator.test';
      const before = proxy.seen.length;
      assert.equal((await run(gate(via, { allowInsecureHttp: true }))).outcome.cause, 'gate_passed');
      assert.ok(proxy.seen.length > before);
      // Listed in NO_PROXY, the request goes direct, where the made-up host does not resolve.
      process.env.NO_PROXY = 'gatepost-emulator.test';
      const after = proxy.seen.length;
      const direct = await run(gate(via, { allowInsecureHttp: true, requestTimeout: 2, triggerBudget: 1 }));
      assert.equal(direct.outcome.cause, 'api_unavailable', direct.outcome.message);
      assert.equal(proxy.seen.length, after);
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
      proxy.close();
    }
  });

  test('abort + resume: cancelled with a snapshot, then resumed to the verdict', async () => {
    const controller = new AbortController();
    const events = [];
    const cancelled = await evaluate({
      ...gate(emulators.healthy.url),
      signal: controller.signal,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'started') setTimeout(() => controller.abort(), 50);
      },
    });
    assert.equal(cancelled.cause, 'cancelled');
    assert.equal(cancelled.exit_code, 130);
    assertNoKeys('the cancelled outcome and its snapshot', cancelled, cancelled.snapshot, events);
    const resumed = await resume(cancelled.snapshot, { apiKey: API_KEY, appKey: APP_KEY });
    assert.equal(resumed.cause, 'gate_passed', resumed.message);
    assert.equal(resumed.evaluation_id, cancelled.evaluation_id);
  });

  test('start + check: no sleeping inside check, same verdict', async () => {
    let state = await start(gate(emulators.healthy.url));
    assert.equal(state.done, false);
    assertNoKeys('the start snapshot', state.snapshot);
    for (let i = 0; i < 60 && !state.done; i++) {
      await new Promise((r) => setTimeout(r, Math.max(0, state.nextCheckAt - Date.now())));
      state = await check(state.snapshot, { apiKey: API_KEY, appKey: APP_KEY });
    }
    assert.equal(state.done, true);
    assert.equal(state.outcome.cause, 'gate_passed');
  });

  test('a snapshot started in Node resumes in Python (the gatepost wheel in .venv)', { skip: pythonGatepost() ? false : 'no .venv with the gatepost Python package (scripts/test python builds it)' }, async () => {
    const started = await start(gate(emulators.healthy.url));
    assert.equal(started.done, false);
    const script = 'import sys, gatepost; o = gatepost.resume(sys.stdin.read()); print(o.cause, o.evaluation_id)';
    const out = await new Promise((resolve, reject) => {
      const child = execFile(pythonGatepost(), ['-c', script], { env: { ...process.env, DD_API_KEY: API_KEY, DD_APP_KEY: APP_KEY } }, (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}: ${stderr}`)) : resolve(stdout),
      );
      child.stdin.end(started.snapshot);
    });
    assert.equal(out.trim(), `gate_passed ${started.evaluationId}`);
  });

  test('100 concurrent evaluations in one process', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 100 }, (_, i) => evaluate(gate(i % 2 === 0 ? emulators.healthy.url : emulators.alerting.url, { seed: i }))),
    );
    outcomes.forEach((o, i) => assert.equal(o.cause, i % 2 === 0 ? 'gate_passed' : 'gate_failed', o.message));
    assert.equal(new Set(outcomes.map((o) => o.evaluation_id)).size, 100);
    assertNoKeys('100 outcomes', outcomes);
  });

  test('inline (JIT) rules from a config file', async () => {
    const file = path.join(emulators.healthy.dir, 'gate.json');
    writeFileSync(file, JSON.stringify({ rules: [{ type: 'monitor', name: 'Checkout monitors', options: { query: 'service:checkout env:prod', duration: 0 } }] }));
    const { outcome } = await run(gate(emulators.healthy.url, { configPath: file }));
    assert.equal(outcome.cause, 'gate_passed', outcome.message);
    assert.equal(outcome.rules[0].name, 'Checkout monitors');
  });

  test('examples/node/deploy.mjs gates a deploy and exits with the verdict', async () => {
    const script = path.join(ROOT, 'examples/node/deploy.mjs');
    const runScript = (url, extraEnv = {}, extraArgs = []) =>
      new Promise((resolve) => {
        execFile(process.execPath, [script, '--service', 'checkout', '--env', 'prod', '--version', 'v2', ...extraArgs], {
          cwd: emulators.healthy.dir,
          env: { ...process.env, GATEPOST_API_URL: url, DD_API_KEY: API_KEY, DD_APP_KEY: APP_KEY, NO_COLOR: '1', ...extraEnv },
        }, (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stdout, stderr }));
      });
    const [pass, fail, tls, misuse] = await Promise.all([
      runScript(emulators.healthy.url),
      runScript(emulators.alerting.url),
      // Over TLS, with the emulator's certificate trusted the way Node users do it.
      runScript(emulators.tls.url, { NODE_EXTRA_CA_CERTS: emulators.tls.cert }),
      // A config error exits 2, as the CLI does, not 1 like a failed gate.
      runScript(emulators.healthy.url, {}, ['--config', 'no-such-gate.json']),
    ]);
    assert.equal(misuse.code, 2, misuse.stderr);
    assert.match(misuse.stderr, /no-such-gate\.json/);
    assert.equal(tls.code, 0, tls.stderr);
    assert.equal(pass.code, 0, pass.stderr);
    assert.match(pass.stdout, /deploying checkout/);
    assert.equal(fail.code, 1, fail.stderr);
    assert.doesNotMatch(fail.stdout, /deploying/);
    assertNoKeys('the script output', pass.stdout, pass.stderr, fail.stdout, fail.stderr, tls.stdout, tls.stderr);
  });
});
