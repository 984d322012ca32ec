// examples/edge/ in the Cloudflare Workers runtime itself (workerd, through miniflare from npm)
// against the emulator: the real `fetch(request, env)` entry (src/worker.js), the `.wasm` imported as
// a compiled WebAssembly.Module and instantiated with `initSync`, a real KV namespace, and the
// runtime's own fetch, timers and crypto.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { Miniflare } from "miniflare";
import { startEmulator } from "./helpers/emulator.mjs";
import { pkgDir, rootDir } from "./helpers/paths.mjs";

const API_KEY = "test-api-key-workerd-6b1f40";
const APP_KEY = "test-app-key-workerd-c93e27";

/**
 * The Worker's modules, named as a bundler (wrangler) would lay them out: workerd resolves a bare
 * specifier like `@gatepost/wasm/web` next to the importing module, so the package's files are
 * given those names.
 */
function workerModules() {
  const edge = path.join(rootDir, "examples/edge/src");
  const web = path.join(pkgDir, "web");
  const text = (file) => readFileSync(file, "utf8");
  return [
    { type: "ESModule", path: "/worker/src/worker.js", contents: text(path.join(edge, "worker.js")) },
    { type: "ESModule", path: "/worker/src/handler.js", contents: text(path.join(edge, "handler.js")) },
    { type: "ESModule", path: "/worker/src/@gatepost/wasm/web", contents: text(path.join(web, "gatepost.js")) },
    { type: "ESModule", path: "/worker/src/@gatepost/wasm/gatepost_wasm.js", contents: text(path.join(web, "gatepost_wasm.js")) },
    { type: "ESModule", path: "/worker/src/@gatepost/wasm/driver.js", contents: text(path.join(web, "driver.js")) },
    {
      type: "CompiledWasm",
      path: "/worker/src/@gatepost/wasm/web/gatepost_wasm_bg.wasm",
      contents: readFileSync(path.join(web, "gatepost_wasm_bg.wasm")),
    },
  ];
}

let emulator;
let worker;
before(async () => {
  emulator = await startEmulator("examples/worlds/healthy.json");
  worker = new Miniflare({
    modules: workerModules(),
    modulesRoot: "/worker",
    compatibilityDate: "2026-07-01",
    kvNamespaces: ["GATES"],
    bindings: { GATEPOST_API_URL: emulator.url, GATEPOST_POLL_INTERVAL: "1", DD_API_KEY: API_KEY, DD_APP_KEY: APP_KEY },
  });
  await worker.ready;
});
after(async () => {
  await worker?.dispose();
  await emulator?.stop();
});

test("in workerd, the edge Worker starts a gate and checks it to a pass from KV", async () => {
  let response = await worker.dispatchFetch("https://gates.example.workers.dev/gates", {
    method: "POST",
    body: JSON.stringify({ service: "checkout", env: "prod", version: "v2" }),
  });
  assert.equal(response.status, 202);
  let body = await response.json();
  const id = body.id;
  assert.match(id, /^[0-9a-f-]{36}$/);
  const deadline = Date.now() + 90_000;
  while (!body.done) {
    assert.ok(Date.now() < deadline, "the gate finished in time");
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, body.nextCheckAt - Date.now())));
    response = await worker.dispatchFetch(`https://gates.example.workers.dev/gates/${id}`);
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.ok(!text.includes(API_KEY) && !text.includes(APP_KEY), "no key in a response");
    body = JSON.parse(text);
  }
  assert.equal(body.outcome.verdict, "pass");
  assert.equal(body.outcome.cause, "gate_passed");
  const kv = await worker.getKVNamespace("GATES");
  const stored = await kv.get(`gate:${id}`);
  assert.ok(stored && !stored.includes(API_KEY) && !stored.includes(APP_KEY), "KV holds the outcome and no key");
});

test("in workerd, an invalid gate is refused with every problem", async () => {
  const response = await worker.dispatchFetch("https://gates.example.workers.dev/gates", {
    method: "POST",
    body: JSON.stringify({ service: "checkout", env: "prod", config: { rules: [] } }),
  });
  assert.equal(response.status, 400);
  const body = await response.json();
  assert.equal(body.code, "invalid_config");
  assert.equal(body.problems[0].path, "rules");
});
