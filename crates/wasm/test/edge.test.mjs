// examples/edge/: the Workers-style handler in Node against the emulator, with an in-memory KV.
// It never sleeps: the test plays the pipeline, calling GET /gates/:id when `nextCheckAt` comes.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { startEmulator } from "./helpers/emulator.mjs";
import { pkgDir, rootDir } from "./helpers/paths.mjs";

const exampleDir = path.join(rootDir, "examples/edge");
const API_KEY = "test-api-key-edge-5a9c31";
const APP_KEY = "test-app-key-edge-0d6e72";

/** What `npm install` does for the example's `file:` dependency: a link to the built package. */
function linkPackage() {
  const link = path.join(exampleDir, "node_modules/@gatepost/wasm");
  if (existsSync(link)) return;
  mkdirSync(path.dirname(link), { recursive: true });
  symlinkSync(pkgDir, link, "dir");
}

/** The subset of the Workers KV API the handler uses. */
class MemoryKV {
  constructor() {
    this.values = new Map();
  }
  async get(key) {
    return this.values.has(key) ? this.values.get(key) : null;
  }
  async put(key, value) {
    assert.equal(typeof value, "string");
    this.values.set(key, value);
  }
}

let emulator;
let handler;
before(async () => {
  linkPackage();
  // As src/worker.js does in a Worker, with the .wasm read from disk instead of bundled.
  const { initSync } = await import(path.join(pkgDir, "web/gatepost.js"));
  initSync({ module: readFileSync(path.join(pkgDir, "web/gatepost_wasm_bg.wasm")) });
  handler = (await import(path.join(exampleDir, "src/handler.js"))).default;
  emulator = await startEmulator("examples/worlds/healthy.json");
});
after(() => emulator?.stop());

test("the edge handler starts a gate, keeps it in KV and checks it to a pass without sleeping", async () => {
  const env = { GATES: new MemoryKV(), GATEPOST_API_URL: emulator.url, DD_API_KEY: API_KEY, DD_APP_KEY: APP_KEY, GATEPOST_POLL_INTERVAL: "1" };
  const request = new Request("https://gates.example.workers.dev/gates", {
    method: "POST",
    body: JSON.stringify({ service: "checkout", env: "prod", version: "v2" }),
  });
  const started = await handler.fetch(request, env);
  assert.equal(started.status, 202);
  let body = await started.json();
  assert.match(body.id, /^[0-9a-f-]{36}$/);
  assert.equal(body.done, false);
  const id = body.id;
  let checks = 0;
  const deadline = Date.now() + 90_000;
  while (!body.done) {
    assert.ok(Date.now() < deadline, "the gate finished in time");
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, body.nextCheckAt - Date.now())));
    const t0 = Date.now();
    const response = await handler.fetch(new Request(`https://gates.example.workers.dev/gates/${id}`), env);
    assert.ok(Date.now() - t0 < 2_000, "a check never sleeps");
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.ok(!text.includes(API_KEY) && !text.includes(APP_KEY), "no key in a response");
    body = JSON.parse(text);
    checks++;
  }
  assert.equal(body.outcome.verdict, "pass");
  assert.equal(body.outcome.cause, "gate_passed");
  assert.equal(body.outcome.evaluation_id, id);
  assert.ok(checks >= 1);
  for (const value of env.GATES.values.values()) {
    assert.ok(!value.includes(API_KEY) && !value.includes(APP_KEY), "no key in KV");
  }
  // A finished gate is answered from KV.
  const again = await (await handler.fetch(new Request(`https://gates.example.workers.dev/gates/${id}`), env)).json();
  assert.equal(again.outcome.cause, "gate_passed");
});

test("the edge handler refuses an invalid gate with every problem", async () => {
  const env = { GATES: new MemoryKV(), GATEPOST_API_URL: emulator.url };
  const response = await handler.fetch(
    new Request("https://gates.example.workers.dev/gates", { method: "POST", body: JSON.stringify({ service: "checkout", env: "prod", config: { rules: [] } }) }),
    env,
  );
  assert.equal(response.status, 400);
  const body = await response.json();
  assert.equal(body.code, "invalid_config");
  assert.equal(body.problems[0].path, "rules");
  assert.equal(env.GATES.values.size, 0);
});
