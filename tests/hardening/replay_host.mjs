// Replay recorded runs (crates/core/tests/hardening_replay.rs) through the Node or wasm engine and
// write what it did, in the same shape, for differential.py to compare.
//
// Usage: node replay_host.mjs MODULE_PATH RECORDED.json OUT.json
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const [modulePath, inPath, outPath] = process.argv.slice(2);
const { Engine } = modulePath.endsWith('.js')
  ? createRequire(import.meta.url)(modulePath)
  : await import(pathToFileURL(modulePath).href);

function apply(engine, step, keys) {
  const now = step.now;
  const record = {};
  if (step.snapshot_resume === true) {
    const snapshot = engine.snapshot();
    record.snapshot = JSON.parse(snapshot);
    engine = Engine.resume(snapshot, keys[0], keys[1], now);
  }
  if (step.input !== undefined) {
    try {
      engine.handle(step.input, now);
    } catch (e) {
      if (typeof e?.code !== 'string') throw e;
      record.error = e.code;
    }
  }
  const actions = [];
  for (;;) {
    const action = engine.poll(now);
    actions.push(action);
    if (action.type !== 'send_request') break;
  }
  record.actions = actions;
  record.events = engine.drainEvents();
  return [engine, record];
}

function run(scenario) {
  const { options, start } = scenario;
  const keys = [options.api_key ?? undefined, options.app_key ?? undefined];
  let engine;
  try {
    engine = scenario.attach !== undefined ? Engine.attach(scenario.attach, options, start) : new Engine(options, start);
  } catch (e) {
    if (typeof e?.code !== 'string') throw e;
    return { construction: { error: e.code } };
  }
  const records = [];
  for (const step of scenario.steps) {
    let record;
    [engine, record] = apply(engine, step, keys);
    records.push(record);
  }
  return { records };
}

const out = {};
for (const scenario of JSON.parse(readFileSync(inPath, 'utf8')).recorded) {
  try {
    out[scenario.name] = run(scenario);
  } catch (e) {
    out[scenario.name] = { crash: `${e?.name}: ${e?.message}` };
  }
}
writeFileSync(outPath, JSON.stringify(out));
