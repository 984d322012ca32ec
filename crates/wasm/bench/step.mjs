// Per-step overhead of driving the engine from JS: one step = one `handle` plus the `poll`s until
// `wait` (the contract), on a poll loop that answers `in_progress` every time — the steady state of
// a long evaluation. Runs the wasm build in Node and, when it is built, the Node native addon, so
// the two bindings are compared on the same loop.
//
//   node crates/wasm/bench/step.mjs [STEPS]
//   GATEPOST_NODE_ADDON=path/to/gatepost.node node crates/wasm/bench/step.mjs   (a specific addon
//   build, e.g. a release one: the package's dist may hold a debug build)
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const steps = Number(process.argv[2] ?? 20_000);
const ID = "e9d2f04f-4f4b-494b-86e5-52f03e10c8e9";
const triggered = JSON.stringify({ data: { id: ID, type: "deployment_gates_evaluation_response", attributes: { evaluation_id: ID } } });
const inProgress = JSON.stringify({
  data: {
    id: ID,
    type: "deployment_gates_evaluation_result_response",
    attributes: { dry_run: false, evaluation_id: ID, gate_status: "in_progress", rules: [{ name: "Service monitors", status: "in_progress", dry_run: false }] },
  },
});
const headers = [["content-type", "application/json"], ["date", "Sun, 22 Nov 2026 00:00:00 GMT"]];

function run(Engine, count) {
  let now = 0;
  const engine = new Engine({ service: "checkout", env: "prod", apiKey: "bench-api-key", appKey: "bench-app-key", seed: 1, timeout: 1e9 }, now);
  let action = engine.poll(now);
  let pending = action.request_id;
  const drain = () => {
    for (;;) {
      action = engine.poll(now);
      if (action.type === "send_request") pending = action.request_id;
      else return action;
    }
  };
  now += 10;
  engine.handle({ type: "response", request_id: pending, status: 202, headers, body: triggered }, now);
  let wait = drain();
  engine.drainEvents();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    if (wait.reason === "awaiting_response") {
      now += 20;
      engine.handle({ type: "response", request_id: pending, status: 200, headers, body: inProgress }, now);
    } else {
      now = wait.until;
      engine.handle({ type: "timeout" }, now);
    }
    wait = drain();
    if (wait.type === "done") throw new Error(`the evaluation ended: ${JSON.stringify(wait.outcome.cause)}`);
    engine.drainEvents();
  }
  return Number(process.hrtime.bigint() - t0) / count / 1000;
}

async function measure(name, modulePath) {
  if (!existsSync(modulePath)) return console.log(`${name}: not built (${path.relative(process.cwd(), modulePath)})`);
  const { Engine } = await import(pathToFileURL(modulePath).href);
  run(Engine, Math.min(2_000, steps)); // warm-up
  const micros = run(Engine, steps);
  console.log(`${name}: ${micros.toFixed(2)} µs per step (handle + polls until wait), ${steps} steps`);
}

await measure("wasm (Node)", path.join(here, "../pkg/node/gatepost.mjs"));
await measure("native addon (Node)", path.join(here, "../../node/dist/index.mjs"));
if (process.env.GATEPOST_NODE_ADDON) {
  // The addon's own Engine class (what @gatepost/node wraps), loaded from the given file.
  const { Engine } = createRequire(import.meta.url)(path.resolve(process.env.GATEPOST_NODE_ADDON));
  run(Engine, Math.min(2_000, steps));
  console.log(`native addon ${process.env.GATEPOST_NODE_ADDON}: ${run(Engine, steps).toFixed(2)} µs per step, ${steps} steps`);
}
