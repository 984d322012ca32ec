// Binding-level limits, Node/wasm: deep host objects, absurd numbers and clocks, corrupt
// snapshots. Each probe must end in a value or a thrown error — never a crash of the process.
// Prints one `probe NAME: RESULT` line each, then `done`.
// Usage: node limits_host.mjs MODULE_PATH DEPTH
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const [modulePath, depthArg] = process.argv.slice(2);
const { Engine, validate } = modulePath.endsWith('.js')
  ? createRequire(import.meta.url)(modulePath)
  : await import(pathToFileURL(modulePath).href);
const OPTS = { service: 's', env: 'e', apiKey: 'k', appKey: 'a' };
if (depthArg === 'cyclic') {
  // Self-referencing host objects: a clean error, not endless recursion.
  const looped = { rules: [] };
  looped.self = looped;
  probe('cyclic config', () => new Engine({ ...OPTS, config: looped }, 0));
  if (validate) probe('cyclic validate', () => validate(looped));
  console.log('done');
  process.exit(0);
}
const depth = Number(depthArg);
const deep = (n) => { let v = 1; for (let i = 0; i < n; i++) v = [v]; return v; };
const rule = (x) => ({ rules: [{ type: 'monitor', name: 'm', options: { query: 'a:b', x } }] });

function probe(name, fn) {
  try {
    const r = fn();
    console.log(`probe ${name}: ok ${String(JSON.stringify(r)).slice(0, 60)}`);
  } catch (e) {
    console.log(`probe ${name}: error ${e?.code ?? e?.name}`);
  }
}

probe('deep config', () => new Engine({ ...OPTS, config: rule(deep(depth)) }, 0));
if (validate) probe('deep validate', () => validate(rule(deep(depth))));
probe('deep input', () => new Engine(OPTS, 0).handle({ type: 'response', request_id: 1, status: 200, headers: deep(depth) }, 1));
probe('deep snapshot text', () => Engine.resume(`{"schema_version":1,"x":${'['.repeat(depth)}${']'.repeat(depth)}}`, 'k', 'a', 0));
for (const now of [-1, 2 ** 53, 2 ** 64, 1e300, NaN, Infinity]) {
  probe(`now ${now}`, () => new Engine(OPTS, now).poll(now));
  probe(`poll now ${now}`, () => new Engine(OPTS, 0).poll(now));
}
probe('seed 2**64', () => new Engine({ ...OPTS, seed: 2 ** 64 }, 0));
probe('timeout 1e308', () => new Engine({ ...OPTS, timeout: 1e308 }, 0));
probe('request_id 2**64', () => new Engine(OPTS, 0).handle({ type: 'response', request_id: 2 ** 64, status: 200 }, 0));
probe('status 70000', () => new Engine(OPTS, 0).handle({ type: 'response', request_id: 1, status: 70000 }, 0));
probe('snapshot tampered', () => {
  const snap = JSON.parse(new Engine(OPTS, 0).snapshot());
  snap.poll_interval_ms = 0;
  snap.next_request_id = 2 ** 64;
  return Engine.resume(JSON.stringify(snap), 'k', 'a', 0);
});
probe('body 50 MB', () => new Engine(OPTS, 0).handle({ type: 'response', request_id: 1, status: 200, body: 'x'.repeat(50_000_000) }, 1));
console.log('done');
