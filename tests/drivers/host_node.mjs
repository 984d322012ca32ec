// The Node and wasm-in-Node host of the driver corpus: one evaluate() with @gatepost/node
// (crates/node/dist/index.js) or @gatepost/wasm (crates/wasm/pkg/node/gatepost.mjs), keys and
// site from process.env as a user's would be.
//
// Usage: node host_node.mjs MODULE_PATH OPTIONS_JSON   (snake_case options in seconds; turned into
// the package's camelCase names here)
// Prints `RESULT {"outcome": ..., "error": ..., "events": [...]}` as its last line.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const [modulePath, optionsJson] = process.argv.slice(2);
const gp = modulePath.endsWith('.js')
  ? createRequire(import.meta.url)(modulePath)
  : await import(pathToFileURL(modulePath).href);

const camel = (name) => name.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
const options = Object.fromEntries(Object.entries(JSON.parse(optionsJson)).map(([k, v]) => [camel(k), v]));
const events = [];
const result = { outcome: null, error: null };
try {
  const outcome = await gp.evaluate({ ...options, onEvent: (e) => events.push(String(e.type)) });
  delete outcome.snapshot;
  result.outcome = outcome;
} catch (e) {
  result.error = { code: e?.code ?? String(e), message: e?.message };
}
result.events = events;
console.log(`RESULT ${JSON.stringify(result)}`);
