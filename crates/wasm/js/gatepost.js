// @gatepost/wasm: the JS API over the WebAssembly engine (the same API as @gatepost/node).
//
// The engine (in the .wasm) decides everything; this file is the host driver. It performs the HTTP
// requests the engine asks for with the runtime's `fetch`, waits with `setTimeout`, and supplies
// the two ambient things the engine never reads itself: the time (`Date.now()`, Unix-epoch
// milliseconds, so a snapshot means the same in every process) and the jitter seed
// (`crypto.getRandomValues`). It runs unchanged in browsers, web workers, Deno, Cloudflare-Workers
// style edge runtimes and Node >= 18.
//
// The build (scripts/build.sh) puts this file next to the wasm-bindgen glue of each target; the
// glue module is imported as `./gatepost_wasm.js`.

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

/** Validate a pipeline config offline. Never throws for a bad config: `valid` says it. */
export function validate(config, options = {}) {
  return JSON.parse(wasm.validateConfig(toJson(config, "invalid_config", "config"), options?.version ?? undefined));
}

/** Render an outcome as text (the same text as the CLI and every other binding). */
export function renderText(outcome, options = {}) {
  return wasm.renderText(toJson(outcome, "invalid_input", "outcome"), Boolean(options?.color));
}

/** Render an outcome as markdown (CI step summaries). */
export function renderMarkdown(outcome) {
  return wasm.renderMarkdown(toJson(outcome, "invalid_input", "outcome"));
}

/**
 * Evaluate a gate: trigger the evaluation, poll until a verdict, and resolve with the Outcome.
 * Never rejects for server behaviour (outages, 4xx, timeouts are outcomes); rejects with a
 * GatepostError for bad options or a bad config. Aborting `signal` resolves with a `cancelled`
 * outcome carrying a resumable `snapshot`.
 */
export async function evaluate(options) {
  const host = hostParts(options);
  const engine = new Engine(engineOptions(options), now());
  try {
    return await drive(engine, host, "full");
  } finally {
    engine.free();
  }
}

/** Continue an evaluation from a snapshot (taken here or in any other gatepost binding). */
export async function resume(snapshot, options = {}) {
  const host = hostParts(options);
  const keys = hostKeys(options);
  const engine = Engine.resume(snapshot, keys.apiKey, keys.appKey, now());
  try {
    return await drive(engine, host, "full");
  } finally {
    engine.free();
  }
}

/**
 * For edge functions that cannot wait for hours: trigger the evaluation and return as soon as the
 * server has accepted it, with a snapshot to store (e.g. in KV) and the time of the next check.
 */
export async function start(options) {
  const host = hostParts(options);
  const engine = new Engine(engineOptions(options), now());
  try {
    const result = await drive(engine, host, "start");
    if (result.done) return result;
    return { done: false, snapshot: result.snapshot, evaluationId: engine.evaluationId, nextCheckAt: result.nextCheckAt };
  } finally {
    engine.free();
  }
}

/**
 * One check of a stored evaluation: resume it, send whatever is due now, handle the responses, and
 * return as soon as the engine wants to wait (it never sleeps) or is done.
 */
export async function check(snapshot, options = {}) {
  const host = hostParts(options);
  const keys = hostKeys(options);
  const engine = Engine.resume(snapshot, keys.apiKey, keys.appKey, now());
  try {
    return await drive(engine, host, "check");
  } finally {
    engine.free();
  }
}

// ---------------------------------------------------------------------------------------------
// Host parts: time, seed, keys, options.

/** Unix-epoch milliseconds: the engine's time base (never `performance.now()`, which is not epoch). */
function now() {
  return Date.now();
}

/** A jitter seed below 2^53 (a JS number survives it exactly), from the runtime's CSPRNG. */
function randomSeed() {
  const words = new Uint32Array(2);
  globalThis.crypto.getRandomValues(words);
  return (words[0] & 0x1fffff) * 0x100000000 + words[1];
}

/** A variable of `process.env`, where the runtime has one (Node, Deno's Node mode, some edge
 * runtimes); an empty value counts as unset, as on the CLI. */
function fromEnv(...names) {
  try {
    const env = globalThis.process?.env;
    if (!env || typeof env !== "object") return undefined;
    for (const name of names) {
      const value = env[name];
      if (typeof value === "string" && value !== "") return value;
    }
  } catch {
    // Deno without --allow-env refuses to read the environment: then there is none.
  }
  return undefined;
}

const HOST_ONLY = new Set(["signal", "fetch", "onEvent"]);

function hostParts(options) {
  if (options === null || typeof options !== "object") {
    throw new GatepostError("invalid_options", "invalid options: expected an object", [
      { path: "", message: "expected an object of options" },
    ]);
  }
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== "function") {
    throw new GatepostError("invalid_options", "invalid options: no fetch (this runtime has none): pass options.fetch", [
      { path: "fetch", message: "expected a fetch function" },
    ]);
  }
  return { signal: options.signal, fetch: fetchImpl, onEvent: options.onEvent };
}

function hostKeys(options) {
  return {
    apiKey: options.apiKey ?? fromEnv("DATADOG_API_KEY", "DD_API_KEY"),
    appKey: options.appKey ?? fromEnv("DATADOG_APP_KEY", "DD_APP_KEY"),
  };
}

/** The options the engine reads: the user's, minus the host-only parts, with keys and site from
 * the environment as the CLI reads them, and a random seed. */
function engineOptions(options) {
  const out = {};
  for (const [key, value] of Object.entries(options)) {
    if (!HOST_ONLY.has(key) && value !== undefined) out[key] = value;
  }
  const keys = hostKeys(options);
  if (keys.apiKey !== undefined && out.apiKey === undefined && out.api_key === undefined) out.apiKey = keys.apiKey;
  if (keys.appKey !== undefined && out.appKey === undefined && out.app_key === undefined) out.appKey = keys.appKey;
  if (out.site === undefined && out.apiUrl === undefined && out.api_url === undefined) {
    const site = fromEnv("DATADOG_SITE", "DD_SITE");
    if (site !== undefined) out.site = site;
  }
  if (out.seed === undefined) out.seed = randomSeed();
  return out;
}

// ---------------------------------------------------------------------------------------------
// The driver loop.

/** `setTimeout` accepts at most 2^31 - 1 ms; longer waits are re-armed (an early timeout is a no-op). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Run the engine's loop. Modes: "full" (until done), "start" (until the trigger was accepted and
 * the engine waits for a poll), "check" (until the engine wants to wait for time to pass).
 */
async function drive(engine, host, mode) {
  const { signal, onEvent } = host;
  let inflight = null; // { id, controller, promise }
  let cancelled = false;
  let wake = null;
  const onAbort = () => {
    cancelled = true;
    if (wake) wake({ kind: "abort" });
  };
  if (signal) {
    if (signal.aborted) cancelled = true;
    else signal.addEventListener("abort", onAbort, { once: true });
  }
  const flush = () => {
    const events = engine.drainEvents();
    if (onEvent) for (const event of events) onEvent(event);
  };
  let sentCancel = false;
  try {
    for (;;) {
      if (cancelled && !sentCancel) {
        sentCancel = true;
        if (inflight) inflight.controller.abort();
        inflight = null;
        engine.handle({ type: "cancel" }, now());
      }
      const action = engine.poll(now());
      flush();
      if (action.type === "done") {
        const outcome = action.outcome;
        if (outcome.cause === "cancelled") outcome.snapshot = engine.snapshot();
        return mode === "full" ? outcome : { done: true, outcome };
      }
      if (action.type === "send_request") {
        // The engine has one request in flight at a time: a new one means it gave up on the old.
        if (inflight) inflight.controller.abort();
        inflight = send(host.fetch, action);
        continue;
      }
      // wait. Only `awaiting_response` waits for the request in flight; any other wait means the
      // engine has given up on it (its timeout passed), so it is abandoned rather than answered late.
      if (action.reason !== "awaiting_response" && inflight) {
        inflight.controller.abort();
        inflight = null;
      }
      const t = now();
      // `start` and `check` hand back at a wait with nothing of theirs in flight (a request in
      // flight is awaited: that is not sleeping). A snapshot taken mid-request elsewhere resumes
      // awaiting a response that can never arrive here: that wait is handed back too, and checked
      // again once it has expired.
      if (mode === "start" && !inflight && engine.evaluationId !== undefined) {
        return { done: false, snapshot: engine.snapshot(), nextCheckAt: action.until };
      }
      if (mode === "check" && !inflight) {
        if (action.until > t) return { done: false, snapshot: engine.snapshot(), nextCheckAt: action.until };
        engine.handle({ type: "timeout" }, t);
        continue;
      }
      const delay = Math.min(Math.max(0, action.until - t), MAX_TIMER_MS);
      let timer;
      const woken = new Promise((resolve) => {
        wake = resolve;
        timer = setTimeout(() => resolve({ kind: "timer" }), delay);
      });
      const racers = [woken];
      if (inflight) {
        const current = inflight;
        racers.push(current.promise.then((input) => ({ kind: "input", input, current })));
      }
      const event = await Promise.race(racers);
      clearTimeout(timer);
      wake = null;
      if (event.kind === "abort") continue;
      if (event.kind === "input") {
        if (inflight === event.current) inflight = null;
        engine.handle(event.input, now());
      } else {
        engine.handle({ type: "timeout" }, now());
      }
    }
  } finally {
    if (signal) signal.removeEventListener("abort", onAbort);
    if (inflight) inflight.controller.abort();
  }
}

// ---------------------------------------------------------------------------------------------
// One HTTP request → one engine input (`response` or `transport_error`); the promise never rejects.

function send(fetchImpl, action) {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, Math.min(action.timeout_ms, MAX_TIMER_MS));
  const id = action.request_id;
  const promise = perform(fetchImpl, action, controller.signal).then(
    (input) => input,
    (error) => transportError(id, error, timedOut, action.headers),
  ).finally(() => clearTimeout(timer));
  return { id, controller, promise };
}

async function perform(fetchImpl, action, signal) {
  /** @type {RequestInit} */
  let init;
  try {
    const headers = new Headers();
    for (const [name, value] of action.headers) headers.append(name, value);
    init = { method: action.method, headers, redirect: "manual", signal };
    if (action.body !== undefined && action.body !== null) init.body = action.body;
  } catch (error) {
    // The request could not even be built (a header value the runtime refuses, e.g. a key with a
    // line break): not a network failure, so not reported as one.
    return { type: "transport_error", request_id: action.request_id, kind: "other", message: redact(describe(error), action.headers) };
  }
  const response = await fetchImpl(action.url, init);
  let status = response.status;
  if (response.type === "opaqueredirect") {
    // In a browser, `redirect: "manual"` hides the redirect: an opaque response with status 0
    // and no headers. It is still a redirect, which the engine must refuse (keys never follow a
    // redirect), so it is handed over as a 3xx; which 3xx the browser does not say.
    status = 302;
  }
  const responseHeaders = [];
  if (response.headers && typeof response.headers.forEach === "function") {
    response.headers.forEach((value, name) => responseHeaders.push([name, value]));
  }
  const body = await readBody(response, action.max_body_bytes);
  if (body === null) {
    return {
      type: "transport_error",
      request_id: action.request_id,
      kind: "body_too_large",
      message: `response body is larger than ${action.max_body_bytes} bytes`,
    };
  }
  return { type: "response", request_id: action.request_id, status, headers: responseHeaders, body };
}

/** The body as text (UTF-8, decoded lossily), or null when it is larger than `max` bytes. */
async function readBody(response, max) {
  const declared = Number(response.headers?.get?.("content-length"));
  if (Number.isFinite(declared) && declared > max) {
    await response.body?.cancel?.().catch(() => {});
    return null;
  }
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  if (response.body && typeof response.body.getReader === "function") {
    const reader = response.body.getReader();
    let size = 0;
    let text = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        await reader.cancel().catch(() => {});
        return null;
      }
      text += decoder.decode(value, { stream: true });
    }
    return text + decoder.decode();
  }
  // A body-less response (e.g. a 204, an opaque redirect, or an injected fetch's plain object).
  if (typeof response.arrayBuffer !== "function") return "";
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.byteLength > max) return null;
  return decoder.decode(bytes);
}

const CONNECT_CODES = new Set([
  "ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL", "UND_ERR_CONNECT",
]);
const RESET_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "UND_ERR_SOCKET", "UND_ERR_CLOSED"]);
const TIMEOUT_CODES = new Set(["ETIMEDOUT", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

/**
 * A failed fetch → a transport_error kind. Node's fetch names the cause (`error.cause.code`);
 * browsers give a bare `TypeError` for every network failure (refused, DNS, TLS, CORS), which is
 * reported as `connect` — the page cannot tell them apart, and a retry is the safe reading.
 */
function transportError(id, error, timedOut, sentHeaders) {
  const cause = error?.cause;
  const code = String(cause?.code ?? error?.code ?? "");
  let kind;
  if (timedOut || TIMEOUT_CODES.has(code) || error?.name === "TimeoutError") kind = "timeout";
  else if (/CERT|TLS|SSL/i.test(code) || /certificate/i.test(String(cause?.message ?? ""))) kind = "tls";
  else if (CONNECT_CODES.has(code)) kind = "connect";
  else if (RESET_CODES.has(code)) kind = "reset";
  else if (error?.name === "TypeError") kind = "connect";
  else kind = "other";
  const message = timedOut ? "request timed out" : redact(describe(error), sentHeaders);
  return { type: "transport_error", request_id: id, kind, message };
}

/**
 * Some runtimes quote a rejected header value in their error message; header values include the
 * keys, which must never reach an outcome or a log.
 */
function redact(message, sentHeaders) {
  let out = message;
  for (const [, value] of sentHeaders) {
    if (value.length >= 4) out = out.split(value).join("<redacted>");
  }
  return out;
}

function describe(error) {
  const parts = [];
  for (let e = error, depth = 0; e && depth < 3; e = e.cause, depth++) {
    const text = e.code ? `${e.message ?? ""} (${e.code})` : String(e.message ?? e);
    if (text && !parts.includes(text)) parts.push(text);
  }
  return parts.join(": ") || "request failed";
}
