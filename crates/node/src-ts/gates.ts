// Gates as code: export, plan and apply preconfigured gates and their rules from a gates file, with
// core's sans-IO gates run (the same as `gatepost gates`) driven by the shared host loop.
import { open } from 'node:fs/promises';
import { webcrypto } from 'node:crypto';
import { driveReport, runOptionsWith, type RouteFor } from './driver';
import { envDefaults } from './environment';
import { native } from './errors';
import { binding } from './native';
import { nodeRoute } from './proxy';
import type { Event, FetchFunction, Input, RunOptions } from './types';

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

export interface GatesOptions extends RunOptions {
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

/** A jitter seed below 2**53 (it must survive a JS number and every other binding). */
export function randomSeed(): number {
  // node:crypto's, not the global: Node 18 has no global `crypto` without a flag.
  const words = webcrypto.getRandomValues(new Uint32Array(2));
  return (words[0]! & 0x1fffff) * 2 ** 32 + words[1]!;
}

/** The run options from `GatesOptions`, keys and site defaulting to the environment (core's
 * rules: `envDefaults`); the shared driver's `runOptionsWith` over `process.env`. */
export function runOptions(options: GatesOptions): Record<string, unknown> {
  return runOptionsWith({ environment: () => process.env, envDefaults, seed: randomSeed }, options);
}

/** Drive a native run to its report with the shared host loop (fetch, timers, `signal`). */
export async function driveToReport<R>(run: NativeReportRun<R>, options: GatesOptions): Promise<R> {
  const userFetch = options.fetch;
  const route: RouteFor = userFetch !== undefined ? () => ({ fetch: userFetch }) : nodeRoute(process.env);
  const checked: NativeReportRun<R> = {
    handle: (input, now) => native(() => run.handle(input, now)),
    poll: (now) => native(() => run.poll(now)),
    drainEvents: () => run.drainEvents(),
  };
  return driveReport(checked, { route, signal: options.signal, onEvent: options.onEvent, stopAt: 'done' });
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
