// Gates as code: export, plan and apply preconfigured gates and their rules from a gates file, with
// core's sans-IO gates run (the same as `gatepost gates`) driven by the shared host loop.
import { open } from 'node:fs/promises';
import { webcrypto } from 'node:crypto';
import { runLoop, type EngineLike, type RouteFor } from './driver';
import { envDefaults } from './environment';
import { native } from './errors';
import { binding } from './native';
import { nodeRoute } from './proxy';
import type { Action, Event, FetchFunction, Input } from './types';

/** A change of a plan, in the order it is carried out. */
export interface GatesChange {
  action: 'create' | 'update' | 'delete' | 'replace';
  service: string;
  env: string;
  identifier: string;
  /** The rule's name for a rule change. */
  rule?: string;
  gate_id?: string;
  rule_id?: string;
  before?: unknown;
  after?: unknown;
  reason?: string;
}

export interface GatesPlan {
  changes: GatesChange[];
  unchanged: string[];
  prune?: GatesScope;
}

/** How a run ended. `applied`: how many of the plan's changes were carried out, in order. */
export interface GatesReport {
  task: 'export' | 'plan' | 'apply';
  ok: boolean;
  plan?: GatesPlan;
  applied: number;
  /** `export`: the gates file. */
  export?: { gates: object[] };
  error?: string;
  warnings?: object[];
  requests: number;
}

export interface GatesScope {
  service?: string;
  env?: string;
  identifier?: string;
}

export interface GatesOptions {
  apiKey?: string;
  appKey?: string;
  site?: string;
  apiUrl?: string;
  allowInsecureHttp?: boolean;
  /** Retries of one request after a 429, 5xx or network error (default 5). */
  maxRetries?: number;
  /** Timeout of one request, in seconds (default 30). */
  requestTimeout?: number;
  fetch?: FetchFunction;
  signal?: AbortSignal;
  onEvent?: (event: Event) => void;
}

export interface GatesFileOptions extends GatesOptions {
  /** The gates file as text (problems then carry line and column) or as an object. */
  file?: string | object;
  /** Or its path. */
  path?: string;
  /** Also delete gates absent from the file within this scope. */
  prune?: GatesScope;
}

/** A native run that ends with a report: a gates run, or a `validate --online` check. */
export interface NativeReportRun<R> {
  handle(input: Input, now: number): void;
  poll(now: number): { type: string; report?: R };
  drainEvents(): Event[];
}

type NativeGatesRun = NativeReportRun<GatesReport>;

type GatesBinding = {
  GatesRun: new (options: object, task: object, now: number) => NativeGatesRun;
  renderGatesPlan(plan: object, format: 'text' | 'markdown'): string;
};

const gatesBinding = binding as unknown as GatesBinding;

/** A report's plan as text, or as markdown for a pull-request comment. */
export function renderGatesPlan(plan: GatesPlan, format: 'text' | 'markdown' = 'text'): string {
  return native(() => gatesBinding.renderGatesPlan(plan, format));
}

/** The run seen as an engine by the shared loop: its `done` carries the report where an
 * evaluation's carries the outcome, and it never hands back early (so it needs no snapshot). */
function asEngine<R>(run: NativeReportRun<R>): EngineLike {
  return {
    handle: (input, now) => native(() => run.handle(input, now)),
    poll: (now) => {
      const action = native(() => run.poll(now));
      return (action.type === 'done' ? { type: 'done', outcome: action.report } : action) as unknown as Action;
    },
    drainEvents: () => run.drainEvents(),
    snapshot: () => '',
  };
}

/** The run options from `GatesOptions`, keys and site defaulting to the environment (core's
 * rules: `envDefaults`). */
export function runOptions(options: GatesOptions): Record<string, unknown> {
  const words = webcrypto.getRandomValues(new Uint32Array(2));
  const found = envDefaults();
  const engineOptions: Record<string, unknown> = {
    api_key: options.apiKey ?? found.apiKey,
    app_key: options.appKey ?? found.appKey,
    site: options.site ?? (options.apiUrl === undefined ? found.site : undefined),
    api_url: options.apiUrl,
    allow_insecure_http: options.allowInsecureHttp ?? false,
    max_retries: options.maxRetries,
    requestTimeout: options.requestTimeout,
    seed: (words[0]! & 0x1fffff) * 2 ** 32 + words[1]!,
  };
  for (const key of Object.keys(engineOptions)) if (engineOptions[key] === undefined) delete engineOptions[key];
  return engineOptions;
}

/** Drive a native run to its report with the shared host loop (fetch, timers, `signal`). */
export async function driveToReport<R>(run: NativeReportRun<R>, options: GatesOptions): Promise<R> {
  const userFetch = options.fetch;
  const route: RouteFor = userFetch !== undefined ? () => ({ fetch: userFetch }) : nodeRoute(process.env);
  const result = await runLoop(asEngine(run), { route, signal: options.signal, onEvent: options.onEvent, stopAt: 'done' });
  if (!result.done) throw new Error('gatepost: the run stopped before its report');
  return result.outcome as unknown as R;
}

async function runGates(options: GatesOptions, task: object): Promise<GatesReport> {
  const engineOptions = runOptions(options);
  const run = native(() => new gatesBinding.GatesRun(engineOptions, task, Date.now()), 'invalid_options');
  return driveToReport(run, options);
}

const MAX_FILE_BYTES = 16 << 20;

async function fileTask(kind: 'plan' | 'apply', options: GatesFileOptions): Promise<object> {
  if ((options.file === undefined) === (options.path === undefined)) {
    throw new TypeError('give the gates file as `file` (text or object) or `path`, exactly one');
  }
  let file = options.file;
  if (options.path !== undefined) {
    const handle = await open(options.path, 'r');
    try {
      const buffer = Buffer.alloc(MAX_FILE_BYTES + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      if (bytesRead > MAX_FILE_BYTES) throw new TypeError(`${options.path}: larger than 16 MiB: is it the right file?`);
      file = buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  }
  return options.prune === undefined ? { task: kind, file } : { task: kind, file, prune: options.prune };
}

/** Compare the gates file with what exists; nothing is changed. */
export async function planGates(options: GatesFileOptions): Promise<GatesReport> {
  return runGates(options, await fileTask('plan', options));
}

/** Carry out the plan, in order. A second apply changes nothing; an interrupted one is resumed by
 * calling it again (the plan is computed anew from what exists). */
export async function applyGates(options: GatesFileOptions): Promise<GatesReport> {
  return runGates(options, await fileTask('apply', options));
}

/** Read the gates that exist (those matching `scope`) with their rules: the report's `export`. */
export async function exportGates(options: GatesOptions & { scope?: GatesScope } = {}): Promise<GatesReport> {
  return runGates(options, { task: 'export', scope: options.scope ?? null });
}

/** `gates.plan(...)`, `gates.apply(...)`, `gates.export(...)`, `gates.render(plan)`. */
export const gates = { plan: planGates, apply: applyGates, export: exportGates, render: renderGatesPlan };
