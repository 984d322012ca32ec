// The host driver shared by @gatepost/node and @gatepost/wasm: it performs what the engine asks
// (HTTP with fetch, sleeps with timers) and feeds back what happened. It decides nothing: every
// `if` about the server's behaviour lives in the engine.
//
// Runtime-neutral on purpose: only `fetch`, `Headers`, `AbortController`, `setTimeout` and
// `TextDecoder`, no Node import. The Node package compiles it to CommonJS with the rest of
// src-ts/; the wasm package's build (crates/wasm/scripts/build.sh) compiles this one file to an
// ES module next to its glue, with DOM types only, which is what keeps it free of Node. What
// differs between the two packages comes in through a `Host`: the engine back end (napi or wasm),
// the package's GatepostError, how to read the environment, where the seed comes from, and (Node)
// a proxy-aware route to fetch.
import type {
  Action,
  CheckOptions,
  CheckResult,
  EngineOptions,
  EvaluateOptions,
  EvaluationOutcome,
  Event,
  FetchFunction,
  Input,
  OnlineReport,
  OnlineValidateOptions,
  Problem,
  ResumeOptions,
  RunOptions,
  StartResult,
} from './api-types';

/** The engine surface the loop needs (both packages' `Engine` classes have it). */
export interface EngineLike {
  handle(input: Input, now: number): void;
  poll(now: number): Action;
  drainEvents(): Event[];
  snapshot(): string;
  readonly evaluationId?: string | null;
}

/** `setTimeout` takes at most 2^31 - 1 ms (a longer delay fires at once): longer waits re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

// ---------------------------------------------------------------------------------------------
// The loop.

/** When the loop hands control back before the outcome (for short-lived runtimes). */
export type StopAt =
  /** Never: run to the outcome, sleeping as told. */
  | 'done'
  /** At the first wait once the server gave an evaluation id (`start`). */
  | 'evaluation_id'
  /** At the first wait that lies in the future (`check`): never sleeps. */
  | 'future_wait';

export interface LoopOptions {
  route: RouteFor;
  signal?: AbortSignal;
  onEvent?: (event: Event) => void;
  stopAt: StopAt;
  /** Unix-epoch milliseconds; `Date.now` unless a test injects a clock. */
  clock?: () => number;
}

export type LoopResult =
  | { done: true; outcome: EvaluationOutcome }
  | { done: false; snapshot: string; nextCheckAt: number };

/**
 * Where events go when the caller gave no `onEvent`: warnings (a config warning, a site that looks
 * mistyped) to `console.warn`, as the Python package logs them and the CLI prints them; every
 * other event nowhere. Pass `onEvent` (`() => {}` to silence them) to take them over.
 */
export function defaultOnEvent(event: Event): void {
  if (event.type === 'warning') console.warn(`gatepost: ${event.message}`);
}

/**
 * Drive `engine` until it is done (or until `stopAt` says to hand back). The engine contract: at
 * start and after each input, poll until `wait` or `done`; start every `send_request`; on
 * `wait{until}` sleep until `until` or until the response arrives, then feed what came (or
 * `timeout`). An abort feeds `cancel`, and the cancelled outcome carries a resumable snapshot.
 */
export async function runLoop(engine: EngineLike, options: LoopOptions): Promise<LoopResult> {
  const clock = options.clock ?? Date.now;
  const { signal } = options;
  let inFlight: InFlight | undefined;
  let cancelled = false;
  const abandon = (): void => {
    inFlight?.abandon();
    inFlight = undefined;
  };
  const onEvent = options.onEvent ?? defaultOnEvent;
  const emit = (): void => {
    for (const event of engine.drainEvents()) onEvent(event);
  };
  try {
    for (;;) {
      if (signal?.aborted === true && !cancelled) {
        cancelled = true;
        abandon();
        engine.handle({ type: 'cancel' }, clock());
      }
      const action = engine.poll(clock());
      emit();
      if (action.type === 'done') {
        const outcome: EvaluationOutcome = { ...action.outcome };
        if (outcome.cause === 'cancelled') outcome.snapshot = engine.snapshot();
        return { done: true, outcome };
      }
      if (action.type === 'send_request') {
        // One request is in flight at a time: a new one means the engine gave up on the last.
        abandon();
        inFlight = startRequest(action, options.route);
        continue;
      }
      // Only `awaiting_response` waits for the request in flight; any other wait means the engine
      // has given up on it, so it is abandoned rather than answered late.
      if (action.reason !== 'awaiting_response') abandon();
      // A request in flight is awaited even by start/check: that is not sleeping.
      if (inFlight === undefined && shouldStop(options.stopAt, action.until, engine, clock())) {
        return { done: false, snapshot: engine.snapshot(), nextCheckAt: action.until };
      }
      const delay = action.until - clock();
      const clamped = delay > MAX_TIMER_MS;
      // Once cancelled, the abort has been delivered: further waits are not cut short by it.
      const woke = await wake(clamped ? MAX_TIMER_MS : delay, inFlight, cancelled ? undefined : signal);
      if (woke.kind === 'abort') continue;
      if (woke.kind === 'input') {
        inFlight = undefined;
        engine.handle(woke.input, clock());
      } else if (clamped && clock() < action.until) {
        // A wait longer than a timer can hold: poll again and re-arm.
        continue;
      } else {
        // A wait for a response ends at the request's timeout: the engine gives up on it.
        abandon();
        engine.handle({ type: 'timeout' }, clock());
      }
    }
  } finally {
    inFlight?.abandon();
  }
}

function shouldStop(stopAt: StopAt, until: number, engine: EngineLike, now: number): boolean {
  switch (stopAt) {
    case 'done':
      return false;
    case 'evaluation_id':
      return engine.evaluationId !== undefined && engine.evaluationId !== null;
    case 'future_wait':
      return until > now;
  }
}

type Wake = { kind: 'input'; input: Input } | { kind: 'timer' } | { kind: 'abort' };

/** Sleep `ms` (at most), waking early for the in-flight response or an abort. */
function wake(ms: number, inFlight: InFlight | undefined, signal: AbortSignal | undefined): Promise<Wake> {
  if (signal?.aborted === true) return Promise.resolve({ kind: 'abort' });
  return new Promise<Wake>((resolve) => {
    let settled = false;
    const finish = (w: Wake): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(w);
    };
    const onAbort = (): void => finish({ kind: 'abort' });
    const timer = setTimeout(() => finish({ kind: 'timer' }), Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
    inFlight?.result.then((input) => finish({ kind: 'input', input }));
  });
}

// ---------------------------------------------------------------------------------------------
// One `send_request` → one engine input (`response` or `transport_error`).

type SendRequest = Extract<Action, { type: 'send_request' }>;
type TransportKind = Extract<Input, { type: 'transport_error' }>['kind'];

/** A request on its way; `abandon()` aborts it when the engine no longer waits for it. */
export interface InFlight {
  readonly requestId: number;
  readonly result: Promise<Input>;
  abandon(): void;
}

/** The `fetch` for one URL, with extra init (Node: undici's `dispatcher` when a proxy applies). */
export type RouteFor = (url: string) => { fetch: FetchFunction; init?: Record<string, unknown> };

/**
 * Start the request the engine asked for. Never rejects: every failure becomes a
 * `transport_error` input. Redirects are not followed (a 3xx goes to the engine as it is, so keys
 * never travel to another host); the request is aborted after `timeout_ms`; a body above
 * `max_body_bytes` is `body_too_large`; the body is decoded as UTF-8, lossily, keeping a BOM as
 * the Rust host does. Error messages never quote a header value (the keys travel in headers).
 */
export function startRequest(action: SendRequest, route: RouteFor): InFlight {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(
    () => {
      timedOut = true;
      controller.abort();
    },
    Math.min(action.timeout_ms, MAX_TIMER_MS),
  );
  const id = action.request_id;
  const result = (async (): Promise<Input> => {
    try {
      return await perform(action, route, controller);
    } catch (error) {
      if (timedOut) return transportError(id, 'timeout', `no response within ${action.timeout_ms} ms`);
      return transportError(id, classify(error), redact(describe(error), action.headers));
    } finally {
      clearTimeout(timer);
    }
  })();
  return {
    requestId: id,
    result,
    abandon: () => {
      clearTimeout(timer);
      controller.abort();
    },
  };
}

async function perform(action: SendRequest, route: RouteFor, controller: AbortController): Promise<Input> {
  const id = action.request_id;
  let headers: Headers;
  try {
    headers = new Headers();
    for (const [name, value] of action.headers) headers.append(name, value);
  } catch (error) {
    // The request cannot even be built (a header value the runtime refuses, e.g. a key with a
    // line break): not a network failure, so not classified as one.
    return transportError(id, 'other', redact(describe(error), action.headers));
  }
  const { fetch, init } = route(action.url);
  const request: RequestInit & Record<string, unknown> = { ...init, method: action.method, headers, redirect: 'manual', signal: controller.signal };
  if (action.body !== undefined && action.body !== null) request.body = action.body;
  const response = await fetch(action.url, request);
  // A browser reports a redirect it did not follow as an opaque response with status 0 and no
  // headers. It is still a redirect, which the engine must refuse: handed over as a 3xx.
  const status = response.type === 'opaqueredirect' ? 302 : response.status;
  const responseHeaders: [string, string][] = [];
  if (response.headers !== undefined && response.headers !== null && typeof response.headers.forEach === 'function') {
    response.headers.forEach((value, name) => responseHeaders.push([name, value]));
  }
  const body = await readBody(response, action.max_body_bytes);
  if (body === undefined) {
    controller.abort();
    return transportError(id, 'body_too_large', `the response body is larger than ${action.max_body_bytes} bytes`);
  }
  return { type: 'response', request_id: id, status, headers: responseHeaders, body };
}

function transportError(request_id: number, kind: TransportKind, message: string): Input {
  return { type: 'transport_error', request_id, kind, message };
}

/** The body as text, or `undefined` when it is larger than `max` bytes (reading stops there). */
async function readBody(response: Response, max: number): Promise<string | undefined> {
  const declared = Number(response.headers?.get?.('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await response.body?.cancel?.().catch(() => undefined);
    return undefined;
  }
  // ignoreBOM: a BOM is kept, as the other hosts keep it; the engine decides what it means.
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  if (response.body !== undefined && response.body !== null && typeof response.body.getReader === 'function') {
    const reader = response.body.getReader();
    let size = 0;
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        await reader.cancel().catch(() => undefined);
        return undefined;
      }
      text += decoder.decode(value, { stream: true });
    }
    return text + decoder.decode();
  }
  // No stream: a body-less response (a 204, an opaque redirect) or an injected fetch's plain object.
  if (typeof response.arrayBuffer !== 'function') return '';
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.byteLength > max) return undefined;
  return decoder.decode(bytes);
}

const TLS_CODES = /^(CERT_|ERR_TLS_|ERR_SSL_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH)/;
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
// A timed-out connect is a timeout, as in the Rust and Python hosts.
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'TimeoutError']);

/** The errors along an error's cause chain (fetch wraps the socket error in `cause`; a connection
 * tried on several addresses wraps them in an AggregateError). */
function chain(error: unknown, depth = 0): { code?: unknown; name?: unknown; message?: unknown }[] {
  if (depth > 6 || typeof error !== 'object' || error === null) return [];
  const e = error as { code?: unknown; cause?: unknown; errors?: unknown; name?: unknown; message?: unknown };
  const nested = Array.isArray(e.errors) ? e.errors.flatMap((x) => chain(x, depth + 1)) : [];
  return [e, ...chain(e.cause, depth + 1), ...nested];
}

/** Which transport failure a fetch error is. The engine decides what each kind means. */
export function classify(error: unknown): TransportKind {
  const errors = chain(error);
  const codes: string[] = [];
  for (const e of errors) {
    if (typeof e.code === 'string') codes.push(e.code);
    if (e.name === 'TimeoutError') codes.push('TimeoutError');
  }
  if (codes.some((c) => TLS_CODES.test(c)) || errors.some((e) => typeof e.message === 'string' && /certificate/i.test(e.message))) {
    return 'tls';
  }
  if (codes.some((c) => CONNECT_CODES.has(c))) return 'connect';
  if (codes.some((c) => RESET_CODES.has(c))) return 'reset';
  if (codes.some((c) => TIMEOUT_CODES.has(c))) return 'timeout';
  // A browser gives a bare TypeError for every network failure (refused, DNS, TLS, CORS): the
  // page cannot tell them apart, and `connect` (retried) is the safe reading.
  if (codes.length === 0 && errors[0]?.name === 'TypeError') return 'connect';
  return 'other';
}

/** A one-line description of a fetch error (`fetch failed: connect ECONNREFUSED 127.0.0.1:9`). */
function describe(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let i = 0; i < 4 && typeof current === 'object' && current !== null; i++) {
    const { message, code, cause } = current as { message?: unknown; code?: unknown; cause?: unknown };
    let text = typeof message === 'string' ? message : '';
    if (typeof code === 'string' && !text.includes(code)) text = text === '' ? code : `${text} (${code})`;
    if (text !== '' && !parts.includes(text)) parts.push(text);
    current = cause;
  }
  if (parts.length > 0) return parts.join(': ');
  return typeof error === 'string' && error !== '' ? error : 'request failed';
}

/** Some runtimes quote a header value they refuse in their error message; header values include
 * the keys, which must never reach an event, an outcome or a log. */
function redact(message: string, sentHeaders: [string, string][]): string {
  let out = message;
  for (const [, value] of sentHeaders) {
    if (value.length >= 4) out = out.split(value).join('<redacted>');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// evaluate / resume / start / check over a back end.

/** What differs between the packages: the engine, the error class and the runtime's ambient parts. */
export interface Host<E extends EngineLike = EngineLike> {
  /** A new engine (throws the package's GatepostError for bad options or config). */
  create(options: EngineOptions, now: number): E;
  /** An engine continued from a snapshot. */
  resume(snapshot: string, apiKey: string | undefined, appKey: string | undefined, now: number): E;
  /** An engine for `options`, continuing the snapshot only if it belongs to that request. */
  resumeFor(snapshot: string, options: EngineOptions, now: number): E;
  /** Frees an engine once the loop is over (wasm memory); the napi engine is garbage-collected. */
  release?(engine: E): void;
  GatepostError: new (code: string, message: string, problems?: Problem[]) => Error;
  /** The runtime's environment (`process.env`), or undefined where it has none (a browser). */
  environment(): Record<string, string | undefined> | undefined;
  /** Core's reading of an environment (`environment::defaults`, the same rules in every host):
   * the keys and site, trimmed, blank values skipped. */
  envDefaults(env: Record<string, string | undefined>): EnvDefaults;
  /** An error with its option names as a JavaScript user writes them (`apiUrl`, not `api_url`):
   * core's `options::camel_case_error` for a GatepostError (an `invalid_options` error's names
   * everywhere; another error's hints only), anything else as it is. */
  camelCaseError(error: unknown): unknown;
  /** A jitter seed below 2**53 from the runtime's CSPRNG. */
  seed(): number;
  /** Routes requests when the user gave no `fetch` (Node: through a proxy from the environment). */
  route?: RouteFor;
  /** A `validate --online` check (core's `online::Check`) from run options and a source; throws
   * the package's GatepostError for bad options or config. */
  createOnlineCheck(options: Record<string, unknown>, source: Record<string, unknown>, now: number): ReportRun<OnlineReport>;
}

/** A run that ends with a report instead of an outcome (a gates run, an online check), as both
 * packages' back ends expose it. `free` releases wasm memory once the loop is over. */
export interface ReportRun<R> {
  handle(input: Input, now: number): void;
  poll(now: number): { type: string; report?: R };
  drainEvents(): Event[];
  free?(): void;
}

/** The run seen as an engine by the loop: its `done` carries the report where an evaluation's
 * carries the outcome, and it never hands back early (so it needs no snapshot). */
export function reportEngine<R>(run: ReportRun<R>): EngineLike {
  return {
    handle: (input, now) => run.handle(input, now),
    poll: (now) => {
      const action = run.poll(now);
      return (action.type === 'done' ? { type: 'done', outcome: action.report } : action) as unknown as Action;
    },
    drainEvents: () => run.drainEvents(),
    snapshot: () => '',
  };
}

/** Drive a report run to its report with the loop; frees it afterwards. */
export async function driveReport<R>(run: ReportRun<R>, loop: LoopOptions): Promise<R> {
  try {
    const result = await runLoop(reportEngine(run), { ...loop, stopAt: 'done' });
    if (!result.done) throw new Error('gatepost: the run stopped before its report');
    return result.outcome as unknown as R;
  } finally {
    run.free?.();
  }
}

/** A report run's options in core's names: keys and site defaulting to the environment by core's
 * rules (the site only without an API URL), durations in seconds for core to convert, a seed. */
export function runOptionsWith(host: Pick<Host, 'environment' | 'envDefaults' | 'seed'>, options: RunOptions): Record<string, unknown> {
  const found = fromEnvironment(host);
  const out: Record<string, unknown> = {
    api_key: options.apiKey ?? found.apiKey,
    app_key: options.appKey ?? found.appKey,
    site: options.site ?? (options.apiUrl === undefined ? found.site : undefined),
    api_url: options.apiUrl,
    allow_insecure_http: options.allowInsecureHttp ?? false,
    max_retries: options.maxRetries,
    requestTimeout: options.requestTimeout,
    seed: host.seed(),
  };
  for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
  return out;
}

/** The source of an online check: the config's rules (with the service and env they are for, when
 * given, so FDD rules are checked for APM data), or a preconfigured gate's. */
export function onlineSource(config: string | object | undefined, options: OnlineValidateOptions): Record<string, unknown> {
  const source: Record<string, unknown> =
    config !== undefined
      ? { source: 'config', config, allow_unknown_keys: options.allowUnknownKeys ?? false, service: options.service, env: options.env }
      : { source: 'gate', service: options.service ?? '', env: options.env ?? '', identifier: options.identifier };
  source.version = options.version;
  for (const key of Object.keys(source)) if (source[key] === undefined) delete source[key];
  return source;
}

/** `validate(config, {online: true})` of both packages: core's online check driven by the loop. */
export async function validateOnlineWith(host: Host, config: string | object | undefined, options: OnlineValidateOptions): Promise<OnlineReport> {
  const loop = loopOptions(host, options, 'done');
  if (config !== undefined && options.identifier !== undefined) {
    throw new host.GatepostError('invalid_options', 'invalid options: identifier names a preconfigured gate; a config has none', [
      { path: 'identifier', message: 'identifier names a preconfigured gate, not a config' },
    ]);
  }
  const runOptions = runOptionsWith(host, options);
  if (options.timeout !== undefined) runOptions.timeout = options.timeout;
  const source = onlineSource(config, options);
  let run: ReportRun<OnlineReport>;
  try {
    run = host.createOnlineCheck(runOptions, source, Date.now());
  } catch (error) {
    throw host.camelCaseError(error);
  }
  return driveReport(run, loop);
}

/** The host parts the option handling needs (any engine back end). */
type Ambient = Pick<Host, 'GatepostError' | 'environment' | 'envDefaults' | 'seed' | 'route'>;

type HostOptions = { fetch?: FetchFunction; signal?: AbortSignal; onEvent?: (event: Event) => void };

/** The keys and site of an environment, as core reads them (JavaScript names). */
export interface EnvDefaults {
  apiKey?: string;
  appKey?: string;
  site?: string;
}

/** The keys and site the runtime's environment provides (none where it has no environment). */
function fromEnvironment(host: Pick<Host, 'environment' | 'envDefaults'>): EnvDefaults {
  const env = host.environment();
  return env === undefined ? {} : host.envDefaults(env);
}

/** The loop's options from the driver-only options; refuses what is not an object, and a runtime
 * without fetch (and none given) up front rather than as a transport error on every request. */
function loopOptions(host: Ambient, options: unknown, stopAt: StopAt): LoopOptions {
  if (options === null || typeof options !== 'object') {
    throw new host.GatepostError('invalid_options', 'invalid options: expected an object', [
      { path: '', message: 'expected an object of options' },
    ]);
  }
  const { fetch: userFetch, signal, onEvent } = options as HostOptions;
  const fetch = userFetch ?? (globalThis.fetch as FetchFunction | undefined);
  if (typeof fetch !== 'function') {
    throw new host.GatepostError('invalid_options', 'invalid options: no fetch (this runtime has none): pass options.fetch', [
      { path: 'fetch', message: 'expected a fetch function' },
    ]);
  }
  const route: RouteFor = userFetch === undefined && host.route !== undefined ? host.route : () => ({ fetch });
  return { route, signal, onEvent, stopAt };
}

const HOST_ONLY = new Set(['signal', 'fetch', 'onEvent']);

/** The options the engine reads: the user's minus the driver-only ones, with keys and site from
 * the environment by core's rules (as the CLI and Python read them), and a random seed. */
function engineOptions(host: Ambient, options: EvaluateOptions): EngineOptions {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) if (!HOST_ONLY.has(key) && value !== undefined) out[key] = value;
  // The engine also takes its snake_case names: a value given that way is not defaulted again.
  const given = (camel: string, snake: string): boolean => out[camel] !== undefined || out[snake] !== undefined;
  const wanted: (keyof EnvDefaults)[] = [];
  if (!given('apiKey', 'api_key')) wanted.push('apiKey');
  if (!given('appKey', 'app_key')) wanted.push('appKey');
  if (!given('site', 'site') && !given('apiUrl', 'api_url')) wanted.push('site');
  if (wanted.length > 0) {
    const found = fromEnvironment(host);
    for (const key of wanted) if (found[key] !== undefined) out[key] = found[key];
  }
  if (out.seed === undefined) out.seed = host.seed();
  return out as unknown as EngineOptions;
}

/** `make()`'s engine; its options errors spelled as a JavaScript user writes the options. */
function built<E extends EngineLike>(host: Host<E>, make: () => E): E {
  try {
    return make();
  } catch (error) {
    throw host.camelCaseError(error);
  }
}

/** The engine for a snapshot: bound to `options.request` when given (the engine decides whether
 * the snapshot belongs to that request and applies its policy), else trusting the snapshot's own. */
function resumed<E extends EngineLike>(host: Host<E>, snapshot: string, options: ResumeOptions): E {
  if (options.request !== undefined) {
    const request = options.request;
    return built(host, () => host.resumeFor(snapshot, engineOptions(host, request), Date.now()));
  }
  const found = options.apiKey !== undefined && options.appKey !== undefined ? {} : fromEnvironment(host);
  const apiKey = options.apiKey ?? found.apiKey;
  const appKey = options.appKey ?? found.appKey;
  return built(host, () => host.resume(snapshot, apiKey, appKey, Date.now()));
}

async function drive<E extends EngineLike>(host: Host<E>, engine: E, loop: LoopOptions): Promise<LoopResult> {
  try {
    return await runLoop(engine, loop);
  } finally {
    host.release?.(engine);
  }
}

function outcomeOf(result: LoopResult): EvaluationOutcome {
  if (!result.done) throw new Error('gatepost: the loop stopped before the outcome');
  return result.outcome;
}

/** `evaluate` of both packages: trigger, poll, resolve with the outcome. */
export async function evaluateWith<E extends EngineLike>(host: Host<E>, options: EvaluateOptions): Promise<EvaluationOutcome> {
  const loop = loopOptions(host, options, 'done');
  const engine = built(host, () => host.create(engineOptions(host, options), Date.now()));
  return outcomeOf(await drive(host, engine, loop));
}

/** `resume` of both packages: continue a snapshot to the outcome; keys default to the environment. */
export async function resumeWith<E extends EngineLike>(host: Host<E>, snapshot: string, options: ResumeOptions = {}): Promise<EvaluationOutcome> {
  const loop = loopOptions(host, options, 'done');
  return outcomeOf(await drive(host, resumed(host, snapshot, options), loop));
}

/** `start` of both packages: hand back once the server gave an evaluation id. */
export async function startWith<E extends EngineLike>(host: Host<E>, options: EvaluateOptions): Promise<StartResult> {
  const loop = loopOptions(host, options, 'evaluation_id');
  const engine = built(host, () => host.create(engineOptions(host, options), Date.now()));
  try {
    const result = await runLoop(engine, loop);
    if (result.done) return { done: true, outcome: result.outcome };
    return { done: false, snapshot: result.snapshot, evaluationId: engine.evaluationId ?? '', nextCheckAt: result.nextCheckAt };
  } finally {
    host.release?.(engine);
  }
}

/** `check` of both packages: send what is due now, hand back at the first future wait. */
export async function checkWith<E extends EngineLike>(host: Host<E>, snapshot: string, options: CheckOptions = {}): Promise<CheckResult> {
  const loop = loopOptions(host, options, 'future_wait');
  const result = await drive(host, resumed(host, snapshot, options), loop);
  if (result.done) return { done: true, outcome: result.outcome };
  return { done: false, snapshot: result.snapshot, nextCheckAt: result.nextCheckAt };
}
