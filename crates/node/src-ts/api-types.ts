// The option and result types of the JS API shared by @gatepost/node and @gatepost/wasm, written
// once: the Node package compiles this file with the rest of src-ts/; the wasm package's build
// (crates/wasm/scripts/build.sh) emits its declarations next to its own, so the two packages can
// never drift apart. Runtime-neutral like driver.ts: nothing here may name a Node type (Node-only
// options, such as `configPath`, are added in types.ts). Outcome, Event, Action, Input, Problem and
// Config are the engine's data documents, generated from its JSON Schemas (generated/schemas.ts).
import type {
  Action,
  ApiError,
  Cause,
  Config,
  Event,
  Input,
  Outcome,
  Phase,
  Problem,
  RuleResult,
  TransportErrorKind,
  Verdict,
  WaitReason,
} from './generated/schemas.js';

export type { Action, ApiError, Cause, Config, Event, Input, Outcome, Phase, Problem, RuleResult, TransportErrorKind, Verdict, WaitReason };

/** What the engine needs to know about one evaluation: the CLI's options, in camelCase. */
export interface EngineOptions {
  service: string;
  env: string;
  identifier?: string;
  version?: string;
  primaryTag?: string;
  /** Inline (JIT) rules: the pipeline config file as text (errors then carry line and column) or
   * as an object (type it with `Config`). Absent: the gate is configured in Datadog. */
  config?: string | object;
  monitorsQueryVariable?: string;
  /** A Datadog site (`datadoghq.eu`...). Excludes `apiUrl`. */
  site?: string;
  /** An explicit base URL: an emulator, or your own proxy that adds the keys (in a browser, the
   * only sensible choice: keys must never ship to a page). */
  apiUrl?: string;
  /** Allow `http://` to a host that is not loopback. */
  allowInsecureHttp?: boolean;
  /** Defaults to `DATADOG_API_KEY` or `DD_API_KEY` where the runtime has an environment; optional
   * when `apiUrl` points at a proxy that adds the keys. */
  apiKey?: string;
  /** Defaults to `DATADOG_APP_KEY` or `DD_APP_KEY` where the runtime has an environment. */
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
  /** Unknown keys in the config are warnings and are sent unchanged (for options newer than
   * gatepost), instead of making the config invalid. */
  allowUnknownKeys?: boolean;
  /** Seed of the retry jitter; random (from the runtime's CSPRNG) by default. Below 2**53. */
  seed?: number;
}

/** A `fetch` function: the runtime's own, undici's, or your own (a proxy, agents, a test double). */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

/** The options of `evaluate` and `start` in every runtime (the Node package adds `configPath`). */
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
  /** The options of the run that wants to resume (as given to `evaluate`): the snapshot resumes only
   * if it belongs to that request, with its timeout and failOnError; otherwise a new evaluation
   * starts (a `snapshot_not_resumed` warning event says why). Use it for snapshots from a store. */
  request?: EvaluateOptions;
  apiKey?: string;
  appKey?: string;
  signal?: AbortSignal;
  fetch?: FetchFunction;
  onEvent?: (event: Event) => void;
}

export interface CheckOptions {
  /** As in `ResumeOptions.request`. */
  request?: EvaluateOptions;
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
  configuration?: object;
}

export interface ValidateOptions {
  /** The version being deployed: Faulty Deployment Detection rules need one. */
  version?: string;
  /** Unknown keys are warnings instead of problems (as `allowUnknownKeys` when evaluating). */
  allowUnknownKeys?: boolean;
}

export interface RenderTextOptions {
  /** ANSI colours, only for a terminal (in Node: `process.stdout.isTTY && !process.env.NO_COLOR`). */
  color?: boolean;
}

/** A monitor for `matchMonitors`: only `id` is required (see docs/query-semantics.md). */
export interface QueryMonitor {
  id: number;
  name?: string;
  message?: string;
  /** `metric alert`, `query alert`, `service check`, ... */
  type?: string;
  /** Static monitor tags (`team:payment`). */
  tags?: string[];
  /** Tags in the monitor query's scope (its `from` clause). */
  scope?: string[];
  groups?: Array<{ name: string; status?: string }>;
  /** `OK` (default), `Alert`, `Warn` or `No Data`. */
  status?: string;
  muted?: boolean;
  creator?: string;
}

/** A monitor a monitor rule selects, with the groups it evaluates (`[]`: the monitor as a whole). */
export interface MonitorMatch {
  id: number;
  groups: string[];
}

// ---------------------------------------------------------------------------------------------
// validate(config, {online: true}) (docs/validate-online.md), the same in both packages.

/** A monitor the search found, with its overall state (`OK`, `Alert`, `No Data`, ...). */
export interface FoundMonitor {
  id: number;
  name: string;
  status: string;
}

/** Whether a Faulty Deployment Detection rule's service has APM data (the spans search, over the
 * last `window`): `service_data` is the baseline FDD compares against; `version_data`, when a
 * version was given, whether that version has spans already (normally not before its deploy). */
export interface ApmCheck {
  service: string;
  env: string;
  window: string;
  service_data: boolean;
  version?: string;
  version_data?: boolean;
}

/** What was found for one rule (`path`: `rules[0]`). */
export interface OnlineRuleCheck {
  path: string;
  name: string;
  type: string;
  dry_run: boolean;
  /** `checked`, or `skipped` (see `note`). */
  status: 'checked' | 'skipped';
  query?: string;
  /** How many monitors the gate would select now (muted ones left out). */
  matched?: number;
  /** The first 50 of them. */
  monitors?: FoundMonitor[];
  /** A matching monitor is in a state that fails the rule now. */
  would_fail_now: boolean;
  /** A Faulty Deployment Detection rule: what the spans search found. */
  apm?: ApmCheck;
  note?: string;
}

/** The report of an online check. `problems` (0 or over 50 matches, with the rule's path) make
 * `ok` false; `warnings` hold "would fail now" and "no APM data"; `error` says the API could not be
 * read. */
export interface OnlineReport {
  ok: boolean;
  source: 'config' | 'gate';
  gate?: { id: string; service: string; env: string; identifier: string; dry_run: boolean };
  rules: OnlineRuleCheck[];
  problems: Problem[];
  warnings: Problem[];
  error?: string;
  requests: number;
}

/** Where a run that ends with a report (a gates run, an online check) sends its requests, and
 * how hard it tries, as a JavaScript user gives them; keys and site default to the environment. */
export interface RunOptions {
  apiKey?: string;
  appKey?: string;
  site?: string;
  apiUrl?: string;
  allowInsecureHttp?: boolean;
  /** Retries of one request after a 429, 5xx or network error (default 5). */
  maxRetries?: number;
  /** Timeout of one request, in seconds (default 30). */
  requestTimeout?: number;
}

/** The options of `validate(config, {online: true, ...})`. */
export interface OnlineValidateOptions extends RunOptions {
  online: true;
  /** The whole check gives up after this many seconds (default 120). */
  timeout?: number;
  /** The version being deployed (FDD rules need one offline; its APM data is reported). */
  version?: string;
  allowUnknownKeys?: boolean;
  /** With no config: the preconfigured gate whose rules to check. With a config: the service and
   * env its rules are for, so Faulty Deployment Detection rules are checked for APM data. */
  service?: string;
  env?: string;
  /** The preconfigured gate's identifier (no config). */
  identifier?: string;
  fetch?: FetchFunction;
  signal?: AbortSignal;
  onEvent?: (event: Event) => void;
}
