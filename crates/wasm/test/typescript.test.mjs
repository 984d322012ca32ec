// The package's TypeScript declarations (the API, wasm-bindgen's Engine, the types generated from
// the schemas) checked with `tsc --strict` against a typed example that also proves wrong uses fail.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { crateDir } from "./helpers/paths.mjs";

test("tsc --strict accepts the typed example and rejects its wrong uses", () => {
  const tsc = path.join(crateDir, "node_modules/.bin/tsc");
  const result = spawnSync(tsc, ["-p", path.join(crateDir, "test/types/tsconfig.json")], { encoding: "utf8" });
  assert.equal(result.status, 0, result.stdout + result.stderr);
});

test("tsc accepts the JS driver of the web and bundler builds (checkJs)", () => {
  const tsc = path.join(crateDir, "node_modules/.bin/tsc");
  const result = spawnSync(tsc, ["-p", path.join(crateDir, "test/types/tsconfig.driver.json")], { encoding: "utf8" });
  assert.equal(result.status, 0, result.stdout + result.stderr);
});
