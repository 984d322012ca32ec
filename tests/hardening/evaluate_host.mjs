// Run one evaluate() with the Node or wasm package and print the outcome JSON (or the error).
// Usage: node evaluate_host.mjs MODULE_PATH OPTIONS_JSON  (camelCase options; keys from DD_API_KEY/DD_APP_KEY)
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const [modulePath, optionsJson] = process.argv.slice(2);
const gp = modulePath.endsWith('.js')
  ? createRequire(import.meta.url)(modulePath)
  : await import(pathToFileURL(modulePath).href);
try {
  const outcome = await gp.evaluate({
    ...JSON.parse(optionsJson),
    apiKey: process.env.DD_API_KEY,
    appKey: process.env.DD_APP_KEY,
    onEvent: (e) => console.error(JSON.stringify(e)),
  });
  delete outcome.snapshot;
  console.log(JSON.stringify(outcome));
} catch (e) {
  console.log(JSON.stringify({ error: e?.code ?? String(e), message: e?.message }));
}
