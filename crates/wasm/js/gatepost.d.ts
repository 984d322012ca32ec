// The declarations of @gatepost/wasm. The option and result types are the JS API's, shared with
// @gatepost/node: the build emits them from crates/node/src-ts/api-types.ts into ./api-types.d.ts,
// and the engine's data types (Outcome, Event, Action, Input, Problem, Config) from the JSON
// Schemas into ./generated/schemas.d.ts, so none of them is hand-copied. Declared here: what only
// this package has (its Engine, GatepostError and functions over the wasm module).
import type {
  Action,
  CheckOptions,
  CheckResult,
  EngineOptions,
  EvaluateOptions,
  EvaluationOutcome,
  Event,
  Input,
  MonitorMatch,
  OnlineReport,
  OnlineValidateOptions,
  Outcome,
  Problem,
  QueryMonitor,
  RenderTextOptions,
  ResumeOptions,
  StartResult,
  ValidateOptions,
  Validation as SharedValidation,
} from "./api-types.js";

export type * from "./api-types.js";

/** The result of `validate`. Here `configuration` is `null` (not absent) when the config is not
 * valid: the engine's JSON is passed through as it is. */
export interface Validation extends Omit<SharedValidation, "configuration"> {
  /** The `configuration` that would be sent (the API's snake_case), when valid. */
  configuration?: object | null;
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
  /** Continue from a snapshot only if it belongs to the request `options` describe (with their
   * policy); otherwise start a new evaluation for `options`. */
  static resumeFor(snapshot: string, options: EngineOptions, now: number): Engine;
  /** Whether this engine continues a snapshot's evaluation (rather than a new one). */
  readonly resumed: boolean;
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
export declare function validate(config: string | object, options?: ValidateOptions & { online?: false }): Validation;
/** With `{online: true}`: also ask Datadog over `fetch` (monitor searches, the FDD rules' APM
 * data), as `gatepost validate --online`; `undefined` as the config with `service`/`env` checks a
 * preconfigured gate's rules. Rejects with GatepostError for bad options or a bad config. */
export declare function validate(config: string | object | undefined, options: OnlineValidateOptions): Promise<OnlineReport>;

/** An online report for people (`text`) or a pull-request comment (`markdown`). */
export declare function renderOnlineReport(report: OnlineReport, format?: "text" | "markdown"): string;

/** The monitors (and their groups) a monitor rule with this query selects, in the monitors' order.
 * Throws `invalid_input` for a query that does not parse or a malformed monitor. */
export declare function matchMonitors(query: string, monitors: QueryMonitor[]): MonitorMatch[];

export declare function renderText(outcome: Outcome, options?: RenderTextOptions): string;

export declare function renderMarkdown(outcome: Outcome): string;

/** The API key, application key and site an environment provides (`process.env` by default, none
 * where the runtime has no environment), by the engine's rules, the same in every gatepost host:
 * `DATADOG_API_KEY` then `DD_API_KEY`; `DATADOG_APP_KEY`, `DD_APP_KEY`, then `DD_APPLICATION_KEY`;
 * `DATADOG_SITE` then `DD_SITE`; values trimmed, empty and white-space-only values skipped. */
export declare function envDefaults(env?: Record<string, string | undefined>): {
  apiKey?: string;
  appKey?: string;
  site?: string;
};

/** The proxy for a request to `url` in `env`, or undefined to go direct, by the engine's rules
 * (HTTPS_PROXY / HTTP_PROXY / ALL_PROXY, NO_PROXY as curl reads it, loopback always direct). */
export declare function proxyFor(url: string, env: Record<string, string | undefined>): string | undefined;
