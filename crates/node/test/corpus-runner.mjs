// The conformance corpus runner (docs/architecture.md "The conformance corpus", the same rules as
// crates/core/tests/corpus.rs), written against the shared JS API only, so the same file runs
// against @gatepost/node and @gatepost/wasm: pass an adapter `{ Engine }`.
//
//   import { runCorpus } from './corpus-runner.mjs';
//   runCorpus({ Engine }, { test, dir });
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Partial match: objects compare only the expected keys (an expected null also accepts a missing
 * key), arrays element by element (same length), scalars exactly. An expected object or array
 * against an actual string is matched against the string parsed as JSON (request bodies). */
export function matches(expected, actual, at) {
  const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
  if ((isObject(expected) || Array.isArray(expected)) && typeof actual === 'string') {
    let parsed;
    try {
      parsed = JSON.parse(actual);
    } catch {
      throw new Error(`${at}: expected JSON ${JSON.stringify(expected)}, got the string ${JSON.stringify(actual)}`);
    }
    return matches(expected, parsed, at);
  }
  if (isObject(expected) && isObject(actual)) {
    for (const [key, value] of Object.entries(expected)) {
      const sub = `${at}.${key}`;
      if (key in actual && actual[key] !== undefined) matches(value, actual[key], sub);
      else if (value !== null) throw new Error(`${sub}: missing (expected ${JSON.stringify(value)})`);
    }
    return;
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (expected.length !== actual.length) {
      throw new Error(`${at}: expected ${expected.length} elements, got ${actual.length}: ${JSON.stringify(actual)}`);
    }
    expected.forEach((w, i) => matches(w, actual[i], `${at}[${i}]`));
    return;
  }
  if (expected === actual) return;
  if (expected === null && actual === undefined) return;
  throw new Error(`${at}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

/** The keys may appear only in `send_request.headers`. */
export function assertNoKeys(what, value, keys) {
  let v = value;
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && v.type === 'send_request') v = { ...v, headers: null };
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  if (keys.some((k) => k !== '' && text.includes(k))) throw new Error(`a key leaked into ${what}`);
}

function errorValue(error) {
  if (typeof error?.code !== 'string') throw error;
  const out = { code: error.code, message: error.message };
  if (Array.isArray(error.problems)) out.problems = error.problems;
  return out;
}

/** Run one scenario; throws an Error naming the first difference. */
export function runScenario({ Engine }, scenario) {
  const options = scenario.options ?? null;
  const keys = ['api_key', 'app_key'].map((k) => options?.[k]).filter((k) => typeof k === 'string');
  const steps = scenario.steps ?? [];
  let now = steps[0]?.now ?? 0;
  let engine;
  let constructionError;
  try {
    engine = typeof scenario.attach === 'string' ? Engine.attach(scenario.attach, options, now) : new Engine(options, now);
  } catch (error) {
    constructionError = errorValue(error);
  }
  if (scenario.expect_error !== undefined) {
    if (constructionError === undefined) throw new Error(`expected error ${JSON.stringify(scenario.expect_error)}, construction succeeded`);
    assertNoKeys('the error', constructionError, keys);
    matches(scenario.expect_error, constructionError, 'error');
    return;
  }
  if (constructionError !== undefined) throw new Error(`construction failed: ${constructionError.message}`);
  steps.forEach((step, i) => {
    const at = `step ${i}`;
    if (typeof step.now === 'number') now = step.now;
    if (step.snapshot_resume === true) {
      const snapshot = engine.snapshot();
      assertNoKeys('the snapshot', snapshot, keys);
      engine = Engine.resume(snapshot, options?.api_key ?? undefined, options?.app_key ?? undefined, now);
    }
    if (step.input !== undefined) {
      let error;
      try {
        engine.handle(step.input, now);
      } catch (e) {
        error = errorValue(e);
      }
      if (error === undefined && step.expect_error !== undefined) {
        throw new Error(`${at}: expected error ${JSON.stringify(step.expect_error)}, input accepted`);
      }
      if (error !== undefined && step.expect_error === undefined) throw new Error(`${at}: input refused: ${error.message}`);
      if (error !== undefined) matches(step.expect_error, error, `${at}.error`);
    }
    const actions = [];
    for (;;) {
      const action = engine.poll(now);
      actions.push(action);
      if (action.type !== 'send_request') break;
      if (actions.length > 100) throw new Error(`${at}: poll never returned wait or done`);
    }
    const events = engine.drainEvents();
    actions.forEach((action, n) => assertNoKeys(`${at} action ${n}`, action, keys));
    assertNoKeys(`${at} events`, events, keys);
    if (step.expect !== undefined) {
      try {
        matches(step.expect, actions, `${at}.actions`);
      } catch (e) {
        throw new Error(`${e.message}\n  actions: ${JSON.stringify(actions)}`);
      }
    }
    if (step.events !== undefined) {
      try {
        matches(step.events, events, `${at}.events`);
      } catch (e) {
        throw new Error(`${e.message}\n  events: ${JSON.stringify(events)}`);
      }
    }
  });
}

/** Every scenario of `dir/index.json`, as one node:test test each. */
export function runCorpus(adapter, { test, dir }) {
  const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8'));
  const names = new Set();
  for (const file of index.files) {
    const topic = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
    for (const scenario of topic.scenarios) {
      const name = scenario.name ?? '(unnamed)';
      if (names.has(name)) throw new Error(`duplicate scenario name ${name}`);
      names.add(name);
      test(`${file.replace(/\.json$/, '')} / ${name}`, () => runScenario(adapter, scenario));
    }
  }
  return names.size;
}
