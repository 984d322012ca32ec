// The driver loop's contract with a scripted engine (no addon, no network): poll until wait or
// done, start each send_request, feed the response or `timeout` at `until`, `cancel` on abort,
// and hand back at the right wait for start/check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runLoop } from '../dist/driver.js';

/** An engine that plays `script`: each entry is the list of actions polls return after the
 * previous input (the last one repeats), and records every input. */
function scripted(script, { evaluationId } = {}) {
  const inputs = [];
  let step = 0;
  let queue = [...script[0]];
  return {
    inputs,
    evaluationId,
    handle(input) {
      inputs.push(input);
      step = Math.min(step + 1, script.length - 1);
      queue = [...script[step]];
    },
    poll() {
      return queue.length > 1 ? queue.shift() : queue[0];
    },
    drainEvents: () => [],
    snapshot: () => '{"snapshot":true}',
  };
}

const send = (id) => ({ type: 'send_request', request_id: id, method: 'GET', url: 'http://gatepost.test/x', headers: [], timeout_ms: 1000, max_body_bytes: 100 });
const wait = (until, reason = 'poll_interval') => ({ type: 'wait', until, reason });
const done = (cause = 'gate_passed') => ({ type: 'done', outcome: { cause, verdict: cause === 'gate_passed' ? 'pass' : 'fail' } });
const okFetch = () => () => ({ fetch: async () => new Response('{"ok":true}', { status: 200 }) });

test('a send_request is performed and its response fed back', async () => {
  const engine = scripted([[send(1), wait(Date.now() + 5000, 'awaiting_response')], [done()]]);
  const result = await runLoop(engine, { route: okFetch(), stopAt: 'done' });
  assert.equal(result.done, true);
  assert.equal(engine.inputs.length, 1);
  assert.equal(engine.inputs[0].type, 'response');
  assert.equal(engine.inputs[0].request_id, 1);
  assert.equal(engine.inputs[0].body, '{"ok":true}');
});

test('a wait ends with a timeout input at its until; a past until at once', async () => {
  const t0 = Date.now();
  const engine = scripted([[wait(t0 - 10)], [wait(t0 + 60)], [done()]]);
  await runLoop(engine, { route: okFetch(), stopAt: 'done' });
  assert.deepEqual(engine.inputs, [{ type: 'timeout' }, { type: 'timeout' }]);
  assert.ok(Date.now() - t0 >= 55);
});

test('an abort during a long wait feeds cancel at once and returns the snapshot', async () => {
  const controller = new AbortController();
  const engine = scripted([[wait(Date.now() + 60_000)], [done('cancelled')]]);
  setTimeout(() => controller.abort(), 20);
  const t0 = Date.now();
  const result = await runLoop(engine, { route: okFetch(), stopAt: 'done', signal: controller.signal });
  assert.ok(Date.now() - t0 < 1000);
  assert.deepEqual(engine.inputs, [{ type: 'cancel' }]);
  assert.equal(result.outcome.snapshot, '{"snapshot":true}');
});

test('future_wait (check) hands back at the first future wait without sleeping', async () => {
  const until = Date.now() + 60_000;
  const engine = scripted([[send(1), wait(Date.now() + 5000, 'awaiting_response')], [wait(until)]]);
  const t0 = Date.now();
  const result = await runLoop(engine, { route: okFetch(), stopAt: 'future_wait' });
  assert.ok(Date.now() - t0 < 1000);
  assert.deepEqual(result, { done: false, snapshot: '{"snapshot":true}', nextCheckAt: until });
});

test('evaluation_id (start) hands back only once the engine has an id', async () => {
  const engine = scripted([[wait(Date.now() + 10)], [wait(Date.now() + 60_000)]]);
  const pending = runLoop(engine, { route: okFetch(), stopAt: 'evaluation_id' });
  setTimeout(() => (engine.evaluationId = 'e9d2f04f-4f4b-494b-86e5-52f03e10c8e9'), 0);
  const result = await pending;
  assert.equal(result.done, false);
  assert.equal(engine.inputs.length, 1);
});

test('an onEvent that throws rejects the loop and aborts the request in flight', async () => {
  let aborted = false;
  const route = () => ({
    fetch: (url, init) =>
      new Promise((_, reject) => init.signal.addEventListener('abort', () => ((aborted = true), reject(new Error('aborted'))))),
  });
  const engine = scripted([[send(1), wait(Date.now() + 5000, 'awaiting_response')]]);
  let drains = 0;
  engine.drainEvents = () => (++drains === 2 ? [{ type: 'progress', message: 'x' }] : []);
  await assert.rejects(runLoop(engine, { route, stopAt: 'done', onEvent: () => { throw new Error('boom'); } }), /boom/);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(aborted, true);
});

test('a wait for anything but the response abandons the request in flight', async () => {
  let aborted = false;
  const route = () => ({
    fetch: (url, init) =>
      new Promise((resolve, reject) => {
        setTimeout(() => resolve(new Response('late')), 10);
        init.signal.addEventListener('abort', () => ((aborted = true), reject(new Error('aborted'))));
      }),
  });
  const engine = scripted([[send(1), wait(Date.now() + 60, 'backoff')], [done()]]);
  await runLoop(engine, { route, stopAt: 'done' });
  assert.equal(aborted, true);
  assert.deepEqual(engine.inputs, [{ type: 'timeout' }]);
});

test('a wait beyond what one timer holds does not end at once', async () => {
  const controller = new AbortController();
  const engine = scripted([[wait(Date.now() + 2 ** 32)], [done('cancelled')]]);
  setTimeout(() => controller.abort(), 30);
  await runLoop(engine, { route: okFetch(), stopAt: 'done', signal: controller.signal });
  assert.deepEqual(engine.inputs, [{ type: 'cancel' }]);
});
