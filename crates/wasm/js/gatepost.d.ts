// Types of the shared JS API (the same in @gatepost/node and @gatepost/wasm). Outcome, Event,
// Action, Input and Config are generated from the engine's JSON Schemas into ./types.d.ts at build
// time (scripts/gen-types.mjs), so the data types are never hand-copied.
import type { Action, Config, Event, Input, Outcome } from "./types";

export type { Action, Config, Event, Input, Outcome };

/** One problem in options or in a config file, named by its JSON path. */
export interface Problem {
  /** A JSON path into what the user wrote (`rules[1].options.duration`), `""` for the whole. */
  path: string;
  message: string;
  hint?: string;
  /** 1-based, when the config was given as text. */
  line?: number;
  column?: number;
}

/** What the engine needs to know about one evaluation: the CLI's options, in camelCase. */
export interface EngineOptions {
  service: string;
  env: string;
  identifier?: string;
  version?: string;
  primaryTag?: string;
  /** Inline (JIT) rules: the pipeline config file as text (errors then carry line and column) or
   * as an object. Absent: the gate is configured in Datadog. */
  config?: string | object;
  monitorsQueryVariable?: string;
  /** A Datadog site (`datadoghq.eu`...). Excludes `apiUrl`. */
  site?: string;
  /** An explicit base URL: an emulator, or your own proxy that adds the keys (in a browser, the
   * only sensible choice: keys must never ship to a page). */
  apiUrl?: string;
  /** Allow `http://` to a host that is not loopback. */
  allowInsecureHttp?: boolean;
  /** Optional when `apiUrl` points at a proxy that adds the keys. */
  apiKey?: string;
  appKey?: string;
  /** Overall timeout in seconds (default 10800), counted from the start. */
  timeout?: number;
  /** Seconds between two polls of the result (default 15). */
  pollInterval?: number;
  /** Seconds one HTTP request may take (default 30). */
  requestTimeout?: number;
  /** Seconds to obtain an evaluation id before giving up with `api_unavailable` (default 60). */
  triggerBudget?: number;
  /** Fail instead of passing when the API is unavailable or the timeout is reached. */
  failOnError?: boolean;
  /** Seed of the retry jitter; random (`crypto.getRandomValues`) by default. Below 2**53. */
  seed?: number;
}

/** A `fetch` function: the runtime's own, or your own (a proxy, a test double). */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

export interface EvaluateOptions extends EngineOptions {
  /** Cancels the evaluation: it then resolves with a `cancelled` outcome carrying `snapshot`. */
  signal?: AbortSignal;
  fetch?: FetchFunction;
  /** Called with every event (started, progress, retrying, warning...) as it happens. */
  onEvent?: (event: Event) => void;
}

/** An outcome as returned by `evaluate`/`resume`: `snapshot` is set when it was cancelled, so the
 * evaluation can be continued with `resume(snapshot)`. */
export type EvaluationOutcome = Outcome & { snapshot?: string };

export interface ResumeOptions {
  apiKey?: string;
  appKey?: string;
  signal?: AbortSignal;
  fetch?: FetchFunction;
  onEvent?: (event: Event) => void;
}

export interface CheckOptions {
  apiKey?: string;
  appKey?: string;
  fetch?: FetchFunction;
}

export type StartResult =
  | { done: false; snapshot: string; evaluationId: string; nextCheckAt: number }
  | { done: true; outcome: Outcome };

export type CheckResult =
  | { done: false; snapshot: string; nextCheckAt: number }
  | { done: true; outcome: Outcome };

export interface Validation {
  valid: boolean;
  problems: Problem[];
  warnings: Problem[];
  /** The `configuration` that would be sent (the API's snake_case), when valid. */
  configuration?: object | null;
}

export interface ValidateOptions {
  /** The version being deployed: Faulty Deployment Detection rules need one. */
  version?: string;
}

export interface RenderTextOptions {
  /** ANSI colours (only for a terminal). */
  color?: boolean;
}

/**
 * The sans-IO engine, for custom hosts. Contract: after construction and after every `handle`,
 * call `poll` until it returns `wait` or `done`; perform each `send_request`; on `wait` sleep until
 * `until` (or until the response arrives) and feed `timeout` if nothing else happened. `now` is
 * Unix-epoch milliseconds. Misuse throws a `GatepostError`; what the server does never throws.
 */
export declare class Engine {
  constructor(options: EngineOptions, now: number);
  /** Poll an evaluation that already exists (no trigger is sent). */
  static attach(evaluationId: string, options: EngineOptions, now: number): Engine;
  /** Continue from `snapshot()` (taken in any process or language). Snapshots hold no keys. */
  static resume(snapshot: string, apiKey: string | undefined, appKey: string | undefined, now: number): Engine;
  handle(input: Input, now: number): void;
  poll(now: number): Action;
  drainEvents(): Event[];
  /** The whole state as JSON text, without keys. */
  snapshot(): string;
  /** The evaluation id, once the server gave one. */
  readonly evaluationId?: string;
  /** Release the engine's memory now rather than when it is garbage-collected. */
  free(): void;
}

/** Every error gatepost throws; outcomes are never errors. */
export declare class GatepostError extends Error {
  constructor(code: string, message: string, problems?: Problem[]);
  /** Stable: `invalid_config`, `invalid_options`, `invalid_input`, `unknown_request`,
   * `invalid_snapshot`. */
  readonly code: string;
  /** For `invalid_config` and `invalid_options`: every problem, each with its path. */
  readonly problems?: Problem[];
}

/** Evaluate a gate. Never rejects for server behaviour; rejects with GatepostError for bad options
 * or a bad config. */
export declare function evaluate(options: EvaluateOptions): Promise<EvaluationOutcome>;

/** Continue an evaluation from a snapshot taken in any gatepost binding. */
export declare function resume(snapshot: string, options?: ResumeOptions): Promise<EvaluationOutcome>;

/** Edge functions: trigger, and return once the server accepted the evaluation. */
export declare function start(options: EvaluateOptions): Promise<StartResult>;

/** Edge functions: one check of a stored evaluation; never sleeps. */
export declare function check(snapshot: string, options?: CheckOptions): Promise<CheckResult>;

/** Validate a pipeline config offline. */
export declare function validate(config: string | object, options?: ValidateOptions): Validation;

export declare function renderText(outcome: Outcome, options?: RenderTextOptions): string;

export declare function renderMarkdown(outcome: Outcome): string;
