// Nothing ambient inside the .wasm: its only imports are its own wasm-bindgen glue, and that glue
// gives it no clock, no randomness and no network. Time, the jitter seed and every HTTP exchange
// come in through the engine's API, from the driver.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { pkgDir } from "./helpers/paths.mjs";

const GLUE = "./gatepost_wasm_bg.js";
const AMBIENT = /Date\.now|new Date\(|Math\.random|crypto|getRandomValues|performance|fetch\(|setTimeout|setInterval|XMLHttpRequest|process\.|require\((?!'fs'\))|import\(/;

for (const target of ["web", "bundler", "node"]) {
  const wasmPath = path.join(pkgDir, target, "gatepost_wasm_bg.wasm");

  test(`${target}: the .wasm imports only its wasm-bindgen glue`, () => {
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(wasmPath)));
    assert.ok(imports.length > 0, "the glue provides something (errors, objects)");
    for (const { module, name, kind } of imports) {
      assert.equal(module, GLUE, `${kind} ${name} is imported from ${module}`);
      assert.match(name, /^__wbg_|^__wbindgen_/, `${name} is not a wasm-bindgen glue function`);
    }
  });

  test(`${target}: the glue functions the .wasm imports touch no clock, randomness or network`, () => {
    const glue = readFileSync(path.join(pkgDir, target, target === "bundler" ? "gatepost_wasm_bg.js" : "gatepost_wasm.js"), "utf8");
    const imported = new Set(
      WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(wasmPath))).map((i) => i.name),
    );
    // Each import is defined in the glue as `NAME: function(...) { ... }` (web, nodejs) or
    // `export function NAME(...) { ... }` (bundler); check the body of every one.
    let checked = 0;
    for (const name of imported) {
      const start = glue.search(new RegExp(`(?:${name}\\s*[:=]\\s*function|function ${name})\\s*\\(`));
      if (start < 0) continue;
      // The body ends at the first closing brace indented like the definition's own line.
      const lineStart = glue.lastIndexOf("\n", start) + 1;
      const indent = glue.slice(lineStart, start).match(/^\s*/)[0];
      const end = glue.indexOf(`\n${indent}}`, start);
      assert.ok(end > start, `the end of ${name}`);
      const body = glue.slice(start, end);
      assert.ok(body.split("\n").length < 40, `${name}'s body is a glue shim, not the whole file`);
      assert.doesNotMatch(body, AMBIENT, `${name} reaches for something ambient:\n${body}`);
      checked++;
    }
    assert.equal(checked, imported.size, `found ${checked} of ${imported.size} glue functions`);
  });
}
