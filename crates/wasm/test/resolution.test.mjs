// The published declarations of @gatepost/wasm (pkg/) compile for a consumer under every
// TypeScript module resolution: node16, nodenext and bundler (relative imports in a
// `"type": "module"` package need their `.js` extensions under the first two).
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { checkResolutions } from "../../../scripts/ts-resolution.mjs";
import { crateDir, pkgDir } from "./helpers/paths.mjs";

const results = checkResolutions({
  tsc: path.join(crateDir, "node_modules/.bin/tsc"),
  packageDir: pkgDir,
  name: "@gatepost/wasm",
  specifiers: ["@gatepost/wasm", "@gatepost/wasm/web", "@gatepost/wasm/bundler"],
});

for (const { mode, status, output } of results) {
  test(`the declarations compile under moduleResolution ${mode}`, () => {
    assert.equal(status, 0, output);
  });
}
