// Per-step overhead of the addon: one poll cycle of an evaluation that stays in progress
// (handle(response) + poll + handle(timeout) + poll), averaged, with the JS <-> Rust conversions
// included. No network: the responses are made up. Run: node bench/step.mjs [iterations]
import { performance } from 'node:perf_hooks';
import { Engine } from '../dist/index.mjs';

const iterations = Number(process.argv[2] ?? 5000);
const id = 'e9d2f04f-4f4b-494b-86e5-52f03e10c8e9';
const inProgress = JSON.stringify({
  data: {
    id,
    type: 'deployment_gates_evaluation_result_response',
    attributes: { dry_run: false, evaluation_id: id, gate_status: 'in_progress', rules: [{ name: 'Service monitors', status: 'in_progress', dry_run: false }] },
  },
});
const headers = [['content-type', 'application/json'], ['date', 'Sun, 22 Nov 2026 01:00:00 GMT']];

function cycle(engine, now) {
  // Expect a send_request, answer it, then sleep to the next poll.
  let action = engine.poll(now);
  if (action.type !== 'send_request') throw new Error(`expected send_request, got ${JSON.stringify(action)}`);
  const request = action.request_id;
  engine.poll(now);
  engine.handle({ type: 'response', request_id: request, status: 200, headers, body: inProgress }, now + 5);
  action = engine.poll(now + 5);
  engine.drainEvents();
  if (action.type !== 'wait') throw new Error(`expected wait, got ${JSON.stringify(action)}`);
  engine.handle({ type: 'timeout' }, action.until);
  return action.until;
}

const engine = Engine.attach(id, { service: 'checkout', env: 'prod', apiKey: 'bench-api-key', appKey: 'bench-app-key', pollInterval: 1, timeout: 1_000_000, seed: 1 }, 0);
let now = 0;
for (let i = 0; i < 200; i++) now = cycle(engine, now); // warm up
const t0 = performance.now();
for (let i = 0; i < iterations; i++) now = cycle(engine, now);
const perCycle = (performance.now() - t0) / iterations;
console.log(`${iterations} poll cycles: ${(perCycle * 1000).toFixed(1)} µs per cycle (2 handle + 3 poll + drainEvents), ${((perCycle * 1000) / 5).toFixed(1)} µs per call`);
