// The Node and wasm host of the secrets harness: end-to-end runs and error paths with recognisable
// fake keys, printing everything a user could see (outcomes, inspected objects, events,
// snapshots, error messages and stacks). secrets.py checks the output for the keys.
//
// Usage: node secrets_host.mjs MODULE_PATH PASS_URL FORBIDDEN_URL
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import util from 'node:util';

const [modulePath, passUrl, forbiddenUrl] = process.argv.slice(2);
const gp = modulePath.endsWith('.js')
  ? createRequire(import.meta.url)(modulePath)
  : await import(pathToFileURL(modulePath).href);
const apiKey = process.env.DD_API_KEY;
const appKey = process.env.DD_APP_KEY;
const config = { rules: [{ type: 'monitor', name: 'checkout monitors', options: { query: 'service:checkout env:prod', duration: 0 } }] };
const common = (apiUrl, extra = {}) => ({ service: 'checkout', env: 'prod', apiUrl, apiKey, appKey, config, pollInterval: 1, timeout: 60, seed: 1, ...extra });
const results = {};

function show(label, value) {
  console.log(`--- ${label}: ${util.inspect(value, { depth: 8, showHidden: true })}`);
  if (value instanceof Error) console.log(`--- ${label} stack: ${value.stack} code=${value.code} json=${JSON.stringify(value)}`);
}

async function kase(name, fn) {
  try {
    results[name] = await fn();
  } catch (e) {
    show(`${name} error`, e);
    results[name] = `error:${e?.code ?? e?.name}`;
  }
}

await kase('pass', async () => {
  const events = [];
  const o = await gp.evaluate({ ...common(passUrl), onEvent: (e) => events.push(e) });
  show('outcome', o);
  console.log(JSON.stringify(events));
  if (gp.renderText) console.log(gp.renderText(o), gp.renderMarkdown(o));
  return o.cause;
});

await kase('forbidden', async () => {
  const o = await gp.evaluate(common(forbiddenUrl));
  show('outcome', o);
  return o.cause;
});

await kase('bad_options', async () => new gp.Engine({ service: '', env: 'prod', apiKey, appKey, timeout: -1, site: 'evil.example' }, 0));
await kase('control_char_key', async () => new gp.Engine({ service: 's', env: 'e', apiKey: `${apiKey}\n`, appKey: `\u0000${appKey}` }, 0));
await kase('key_in_wrong_field', async () => new gp.Engine({ service: 's', env: 'e', apiKey, appKey, timeout: [1] }, 0));
await kase('unknown_option', async () => new gp.Engine({ service: 's', env: 'e', apiKey, appKey, apiKee: apiKey }, 0));
await kase('bad_config', async () => gp.evaluate({ ...common(passUrl), config: '{"rules": [{"type": "moniyor", "name": 1}]' }));

await kase('engine_inspect_snapshot', async () => {
  const e = new gp.Engine({ service: 's', env: 'e', apiUrl: passUrl, apiKey, appKey }, 0);
  const action = e.poll(0);
  const headers = Object.fromEntries(action.headers);
  if (headers['DD-API-KEY'] !== apiKey || headers['DD-APPLICATION-KEY'] !== appKey) throw new Error('keys missing from headers');
  delete action.headers;
  console.log(JSON.stringify(action));
  show('engine', e);
  console.log(e.snapshot());
  try { e.handle({ type: 'response', request_id: 99, status: 200, headers: [], body: '' }, 1); } catch (err) { show('unknown request', err); }
  try { gp.Engine.resume('{"schema_version":1,"junk":true}', apiKey, appKey, 1); } catch (err) { show('bad snapshot', err); }
  try { gp.Engine.resume('not json', apiKey, appKey, 1); } catch (err) { show('bad snapshot text', err); }
  return 'ok';
});

await kase('cancelled', async () => {
  const controller = new AbortController();
  const slow = { ...common(passUrl), config: { rules: [{ type: 'monitor', name: 'slow', options: { query: 'service:checkout env:prod', duration: 3600 } }] } };
  const o = await gp.evaluate({ ...slow, signal: controller.signal, onEvent: (ev) => { console.log(JSON.stringify(ev)); if (ev.type === 'started') controller.abort(); } });
  show('cancelled outcome', o);
  console.log(o.snapshot);
  return o.cause;
});

console.log(`RESULTS ${JSON.stringify(results)}`);
