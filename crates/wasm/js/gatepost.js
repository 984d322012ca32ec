// @gatepost/wasm: the JS API over the WebAssembly engine (the same API as @gatepost/node).
//
// The engine (in the .wasm) decides everything. The host driver that performs what it asks (HTTP
// with the runtime's `fetch`, waits with `setTimeout`) is the one @gatepost/node uses too:
// crates/node/src-ts/driver.ts, compiled by scripts/build.sh to `./driver.js` beside this file.
// What is left here is the wasm side of it: the engine wrapper, GatepostError, and the two
// ambient things the engine never reads itself, the environment (where the runtime has one) and
// the jitter seed (`crypto.getRandomValues`). It runs unchanged in browsers, web workers, Deno,
// Cloudflare-Workers style edge runtimes and Node >= 18.
//
// The build puts this file next to the wasm-bindgen glue of each target; the glue module is
// imported as `./gatepost_wasm.js`.

import { checkWith, evaluateWith, resumeWith, startWith, validateOnlineWith } from "./driver.js";
import * as glue from "./gatepost_wasm.js";

/**
 * The wasm-bindgen exports (the nodejs target's CommonJS glue arrives as a default export).
 * @type {typeof import("./gatepost_wasm")}
 */
const wasm = /** @type {any} */ (typeof glue.RawEngine === "function" ? glue : /** @type {any} */ (glue).default);

/**
 * The error thrown for bad options, a bad config, a bad snapshot or host misuse. It is a real
 * `Error` with a stable `code` (`invalid_config`, `invalid_options`, `invalid_input`,
 * `unknown_request`, `invalid_snapshot`) and, for options and config errors, `problems`.
 *
 * Errors thrown by the engine inside the .wasm are created there (as `Error`s named
 * `GatepostError`); `instanceof GatepostError` recognises them as well as instances of this class.
 */
export class GatepostError extends Error {
  constructor(code, message, problems) {
    super(message);
    this.name = "GatepostError";
    this.code = code;
    if (problems !== undefined && problems.length > 0) this.problems = problems;
  }

  static [Symbol.hasInstance](value) {
    return value instanceof Error && value.name === "GatepostError" && typeof (/** @type {any} */ (value).code) === "string";
  }
}

/**
 * Values cross into the .wasm as JSON text (see src/lib.rs for why). What JSON cannot carry
 * (a BigInt, a cycle) is the caller's mistake, reported with the given code.
 */
function toJson(value, code, what) {
  try {
    return JSON.stringify(value ?? null);
  } catch (error) {
    throw new GatepostError(code, `invalid ${what}: ${error.message}`, [{ path: "", message: error.message }]);
  }
}

const RAW = Symbol("gatepost.rawEngine");

/**
 * The sans-IO engine, for custom hosts. Contract: after construction and after every `handle`,
 * call `poll` until it returns `wait` or `done`; perform each `send_request`; on `wait` sleep until
 * `until` (or until the response arrives) and feed `timeout` if nothing else happened. `now` is
 * Unix-epoch milliseconds. Misuse throws a `GatepostError`; what the server does never throws.
 */
export class Engine {
  constructor(options, now) {
    this[RAW] = new wasm.RawEngine(toJson(options, "invalid_options", "options"), now);
  }

  /** Poll an evaluation that already exists (no trigger is sent). */
  static attach(evaluationId, options, now) {
    if (typeof evaluationId !== "string") throw new GatepostError("invalid_input", "invalid evaluation id: expected a string");
    return adopt(wasm.RawEngine.attach(evaluationId, toJson(options, "invalid_options", "options"), now));
  }

  /** Continue from `snapshot()` (taken in any process or language). Snapshots hold no keys. */
  static resume(snapshot, apiKey, appKey, now) {
    if (typeof snapshot !== "string") throw new GatepostError("invalid_snapshot", "invalid snapshot: expected the JSON text from snapshot()");
    return adopt(wasm.RawEngine.resume(snapshot, apiKey ?? undefined, appKey ?? undefined, now));
  }

  /** Continue from a snapshot only if it belongs to the request `options` describe (with their
   * policy); otherwise start a new evaluation for `options`. `resumed` tells which happened. */
  static resumeFor(snapshot, options, now) {
    if (typeof snapshot !== "string") throw new GatepostError("invalid_snapshot", "invalid snapshot: expected the JSON text from snapshot()");
    return adopt(wasm.RawEngine.resumeFor(snapshot, toJson(options, "invalid_options", "options"), now));
  }

  /** Whether this engine continues a snapshot's evaluation (rather than a new one). */
  get resumed() {
    return this[RAW].resumed;
  }

  handle(input, now) {
    this[RAW].handle(toJson(input, "invalid_input", "input"), now);
  }

  poll(now) {
    return JSON.parse(this[RAW].poll(now));
  }

  drainEvents() {
    return JSON.parse(this[RAW].drainEvents());
  }

  /** The whole state as JSON text, without keys. */
  snapshot() {
    return this[RAW].snapshot();
  }

  /** The evaluation id, once the server gave one. */
  get evaluationId() {
    return this[RAW].evaluationId ?? undefined;
  }

  /** Release the engine's memory now rather than when it is garbage-collected. */
  free() {
    this[RAW].free();
  }
}

function adopt(raw) {
  const engine = Object.create(Engine.prototype);
  engine[RAW] = raw;
  return engine;
}

/**
 * Validate a pipeline config offline. Never throws for a bad config: `valid` says it.
 *
 * With `{online: true}` (a promise): also ask Datadog over `fetch`, as `gatepost validate
 * --online` does (docs/validate-online.md): each monitor rule's query searched (0 or over 50
 * matches are `problems`, alerting now a warning), each Faulty Deployment Detection rule's service
 * checked for APM data (`service` and `env`; none is a warning). Pass `undefined` as the config and
 * `service`/`env` to check a preconfigured gate's rules.
 */
export function validate(config, options = {}) {
  if (options?.online === true) return validateOnlineWith(host, config, options);
  if (config === undefined) throw new TypeError("validate: give a config (or {online: true} with service and env)");
  const v = JSON.parse(
    wasm.validateConfig(
      toJson(config, "invalid_config", "config"),
      options?.version ?? undefined,
      Boolean(options?.allowUnknownKeys),
    ),
  );
  // The shared `Validation` type, as @gatepost/node returns it: no `configuration` unless valid
  // (core writes `null`).
  const out = { valid: v.valid, problems: v.problems, warnings: v.warnings };
  if (v.configuration !== undefined && v.configuration !== null) out.configuration = v.configuration;
  return out;
}

/** An online report (from `validate(config, {online: true})`) for people (`text`) or a
 * pull-request comment (`markdown`), the same as the CLI's. */
export function renderOnlineReport(report, format = "text") {
  return wasm.renderOnlineReport(toJson(report, "invalid_input", "report"), format === "markdown" ? "markdown" : "text");
}

/** The wasm online check in the shape the shared driver drives (`ReportRun`); `free` releases its
 * memory once the loop is over. */
function createOnlineCheck(options, source, now) {
  const raw = new wasm.RawOnlineCheck(toJson(options, "invalid_options", "options"), toJson(source, "invalid_options", "source"), now);
  return {
    handle: (input, at) => raw.handle(toJson(input, "invalid_input", "input"), at),
    poll: (at) => JSON.parse(raw.poll(at)),
    drainEvents: () => JSON.parse(raw.drainEvents()),
    free: () => raw.free(),
  };
}

/** The monitors (and their groups) a monitor rule with this query selects (docs/query-semantics.md). */
export function matchMonitors(query, monitors) {
  return JSON.parse(wasm.matchMonitors(String(query), toJson(monitors, "invalid_input", "monitors")));
}

/** Render an outcome as text (the same text as the CLI and every other binding). */
export function renderText(outcome, options = {}) {
  return wasm.renderText(toJson(outcome, "invalid_input", "outcome"), Boolean(options?.color));
}

/** Render an outcome as markdown (CI step summaries). */
export function renderMarkdown(outcome) {
  return wasm.renderMarkdown(toJson(outcome, "invalid_input", "outcome"));
}

// ---------------------------------------------------------------------------------------------
// The shared driver over this engine.

/** A jitter seed below 2^53 (a JS number survives it exactly), from the runtime's CSPRNG. */
function randomSeed() {
  const words = new Uint32Array(2);
  globalThis.crypto.getRandomValues(words);
  return (words[0] & 0x1fffff) * 0x100000000 + words[1];
}

/** The runtime's `process.env`, where it has one (Node, Deno's Node mode, some edge runtimes). */
function environment() {
  try {
    const env = globalThis.process?.env;
    return env && typeof env === "object" ? env : undefined;
  } catch {
    // Deno without --allow-env refuses to read the environment: then there is none.
    return undefined;
  }
}

/** The string entries of an environment, as JSON text for the engine. */
function envJson(env) {
  const out = {};
  for (const [name, value] of Object.entries(env ?? {})) if (typeof value === "string") out[name] = value;
  return JSON.stringify(out);
}

/**
 * The API key, application key and site an environment provides (`process.env` by default), by
 * the engine's rules, the same in every gatepost host: `DATADOG_API_KEY` then `DD_API_KEY`;
 * `DATADOG_APP_KEY`, `DD_APP_KEY`, then `DD_APPLICATION_KEY`; `DATADOG_SITE` then `DD_SITE`; values
 * trimmed, empty and white-space-only values skipped.
 * @param {Record<string, string | undefined>} [env]
 * @returns {{ apiKey?: string, appKey?: string, site?: string }}
 */
export function envDefaults(env = environment()) {
  if (env === undefined) return {};
  const found = JSON.parse(wasm.envDefaults(envJson(env)));
  const out = {};
  if (found.api_key !== undefined) out.apiKey = found.api_key;
  if (found.app_key !== undefined) out.appKey = found.app_key;
  if (found.site !== undefined) out.site = found.site;
  return out;
}

/**
 * The proxy for a request to `url` in an environment, or undefined to go direct, by the engine's
 * rules (HTTPS_PROXY / HTTP_PROXY / ALL_PROXY, NO_PROXY as curl reads it, loopback always direct).
 * `fetch` itself does not use it: a runtime that honours a proxy routes requests on its own.
 * @param {string} url
 * @param {Record<string, string | undefined>} env
 * @returns {string | undefined}
 */
export function proxyFor(url, env) {
  return wasm.proxyFor(url, envJson(env)) ?? undefined;
}

/** The wasm side of the shared driver: each engine's memory is freed when its loop is over. */
const host = {
  create: (options, now) => new Engine(options, now),
  resume: (snapshot, apiKey, appKey, now) => Engine.resume(snapshot, apiKey, appKey, now),
  resumeFor: (snapshot, options, now) => Engine.resumeFor(snapshot, options, now),
  release: (engine) => engine.free(),
  GatepostError,
  environment,
  envDefaults,
  camelCaseError: (error) => {
    if (!(error instanceof GatepostError)) return error;
    const plain = { code: error.code, message: error.message, problems: error.problems ?? [] };
    const spelled = JSON.parse(wasm.camelCaseError(JSON.stringify(plain)));
    return new GatepostError(spelled.code, spelled.message, spelled.problems);
  },
  seed: randomSeed,
  createOnlineCheck,
};

/**
 * Evaluate a gate: trigger the evaluation, poll until a verdict, and resolve with the Outcome.
 * Never rejects for server behaviour (outages, 4xx, timeouts are outcomes); rejects with a
 * GatepostError for bad options or a bad config. Aborting `signal` resolves with a `cancelled`
 * outcome carrying a resumable `snapshot`.
 */
export function evaluate(options) {
  return evaluateWith(host, options);
}

/** Continue an evaluation from a snapshot (taken here or in any other gatepost binding). */
export function resume(snapshot, options = {}) {
  return resumeWith(host, snapshot, options);
}

/**
 * For edge functions that cannot wait for hours: trigger the evaluation and return as soon as the
 * server has accepted it, with a snapshot to store (e.g. in KV) and the time of the next check.
 */
export function start(options) {
  return startWith(host, options);
}

/**
 * One check of a stored evaluation: resume it, send whatever is due now, handle the responses, and
 * return as soon as the engine wants to wait (it never sleeps) or is done.
 */
export function check(snapshot, options = {}) {
  return checkWith(host, snapshot, options);
}
