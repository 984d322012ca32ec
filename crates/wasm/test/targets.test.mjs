// Each build target loads and runs the same engine: `node` directly, `web` through `initSync` with
// the module's bytes (as in a Worker), and `bundler` through Node's WebAssembly ES-module
// integration, which is what bundlers implement.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { pkgDir } from "./helpers/paths.mjs";

/** A few calls through the public API, returning what they gave. */
const exercise = `
  const engine = new gatepost.Engine({ service: "checkout", env: "prod", apiUrl: "http://127.0.0.1:9", seed: 1 }, 0);
  const first = engine.poll(0);
  return { first: first.type, method: first.method, valid: gatepost.validate({ rules: [] }).valid };
`;
const expected = { first: "send_request", method: "POST", valid: false };

test("node target", async () => {
  const gatepost = await import(pathToFileURL(path.join(pkgDir, "node/gatepost.mjs")).href);
  assert.deepEqual(new Function("gatepost", exercise)(gatepost), expected);
});

test("web target, instantiated with initSync", async () => {
  const gatepost = await import(pathToFileURL(path.join(pkgDir, "web/gatepost.js")).href);
  gatepost.initSync({ module: readFileSync(path.join(pkgDir, "web/gatepost_wasm_bg.wasm")) });
  assert.deepEqual(new Function("gatepost", exercise)(gatepost), expected);
});

test("bundler target, through WebAssembly ES-module integration", () => {
  const script = `
    const gatepost = await import(${JSON.stringify(pathToFileURL(path.join(pkgDir, "bundler/gatepost.js")).href)});
    console.log(JSON.stringify((() => { ${exercise} })()));
  `;
  const result = spawnSync(process.execPath, ["--experimental-wasm-modules", "--no-warnings", "--input-type=module", "-e", script], {
    encoding: "utf8",
  });
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout.trim().split("\n").pop()), expected);
});
