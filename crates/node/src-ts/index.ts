/**
 * @gatepost/node: evaluate Datadog Deployment Gates from Node deploy scripts.
 *
 * ```ts
 * import { evaluate } from '@gatepost/node';
 * const outcome = await evaluate({ service: 'checkout', env: 'prod', configPath: 'gate.json' });
 * process.exitCode = outcome.exit_code;
 * ```
 *
 * The decisions (retries, backoff, fail-open policy) are made by the native engine shared with the
 * CLI and every other binding; this module performs HTTP with `fetch` and sleeps with timers.
 */
import { webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { runLoop, type StopAt } from './driver';
import { Engine } from './engine';
import { GatepostError, native } from './errors';
import { binding } from './native';
import { nodeRoute } from './proxy';
import type {
  CheckOptions,
  CheckResult,
  EngineOptions,
  EvaluateOptions,
  EvaluationOutcome,
  FetchFunction,
  Outcome,
  RenderTextOptions,
  ResumeOptions,
  StartResult,
  Validation,
  ValidateOptions,
} from './types';

export { Engine } from './engine';
export { GatepostError } from './errors';
export { classify as classifyFetchError } from './http';
export { proxyFor } from './proxy';
export type * from './types';

const env = (): Record<string, string | undefined> => process.env;

function fromEnv(...names: string[]): string | undefined {
  for (const name of names) {
    const value = process.env[name];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

/** A jitter seed below 2**53 (it must survive a JS number and every other binding). */
function randomSeed(): number {
  // node:crypto's, not the global: Node 18 has no global `crypto` without a flag.
  const words = webcrypto.getRandomValues(new Uint32Array(2));
  return (words[0]! & 0x1fffff) * 2 ** 32 + words[1]!;
}

/** The engine options of an `evaluate` call: driver-only options removed, keys and site from the
 * environment as the CLI reads them, the config file read, a random seed. */
async function engineOptions(options: EvaluateOptions): Promise<EngineOptions> {
  if (typeof options !== 'object' || options === null) {
    throw new GatepostError('invalid_options', 'invalid options: expected an object', [
      { path: '', message: 'expected an object of options' },
    ]);
  }
  const { signal: _signal, fetch: _fetch, onEvent: _onEvent, configPath, ...rest } = options;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) if (value !== undefined) out[key] = value;
  if (configPath !== undefined) {
    if (out.config !== undefined) {
      throw new GatepostError('invalid_options', 'invalid options: config and configPath are both given', [
        { path: 'configPath', message: 'config and configPath are both given', hint: 'pass one of them' },
      ]);
    }
    try {
      out.config = await readFile(configPath, 'utf8');
    } catch (error) {
      const message = `cannot read the config file ${configPath}: ${(error as Error).message}`;
      throw new GatepostError('invalid_options', `invalid options: ${message}`, [{ path: 'configPath', message }]);
    }
  }
  // The engine also takes its snake_case names: a value given that way is not defaulted again.
  const given = (camel: string, snake: string): boolean => out[camel] !== undefined || out[snake] !== undefined;
  if (!given('apiKey', 'api_key')) out.apiKey = fromEnv('DATADOG_API_KEY', 'DD_API_KEY');
  if (!given('appKey', 'app_key')) out.appKey = fromEnv('DATADOG_APP_KEY', 'DD_APP_KEY');
  if (!given('site', 'site') && !given('apiUrl', 'api_url')) out.site = fromEnv('DATADOG_SITE', 'DD_SITE');
  out.seed ??= randomSeed();
  for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
  return out as unknown as EngineOptions;
}

function loop(engine: Engine, stopAt: StopAt, opts: { fetch?: FetchFunction; signal?: AbortSignal; onEvent?: EvaluateOptions['onEvent'] }) {
  return runLoop(engine, {
    route: nodeRoute(opts.fetch, env()),
    signal: opts.signal,
    onEvent: opts.onEvent,
    stopAt,
  });
}

/**
 * Evaluate a gate: trigger, poll, and resolve with the outcome (`verdict`, `exit_code`, `cause`,
 * rules). Never rejects for server behaviour — outages and timeouts are outcomes, decided by the
 * engine's policy; rejects with `GatepostError` for invalid options or config. Aborting `signal`
 * resolves with a `cancelled` outcome carrying a `snapshot` for `resume`.
 */
export async function evaluate(options: EvaluateOptions): Promise<EvaluationOutcome> {
  const engine = new Engine(await engineOptions(options), Date.now());
  const result = await loop(engine, 'done', options);
  if (!result.done) throw new Error('gatepost: the loop stopped before the outcome');
  return result.outcome;
}

/** Continue an evaluation from a snapshot (of a cancelled outcome, of `start`/`check`, or of
 * another language's engine). Keys default to the environment, as in `evaluate`. */
export async function resume(snapshot: string, options: ResumeOptions = {}): Promise<EvaluationOutcome> {
  const engine = Engine.resume(
    snapshot,
    options.apiKey ?? fromEnv('DATADOG_API_KEY', 'DD_API_KEY'),
    options.appKey ?? fromEnv('DATADOG_APP_KEY', 'DD_APP_KEY'),
    Date.now(),
  );
  const result = await loop(engine, 'done', options);
  if (!result.done) throw new Error('gatepost: the loop stopped before the outcome');
  return result.outcome;
}

/**
 * For short-lived runtimes (serverless, CI steps that must not block): trigger the evaluation and
 * return as soon as the server gave an evaluation id, with a snapshot to `check` later (at
 * `nextCheckAt`, Unix-epoch ms). Trigger retries happen inside, within the trigger budget.
 */
export async function start(options: EvaluateOptions): Promise<StartResult> {
  const engine = new Engine(await engineOptions(options), Date.now());
  const result = await loop(engine, 'evaluation_id', options);
  if (result.done) return { done: true, outcome: result.outcome };
  return { done: false, snapshot: result.snapshot, evaluationId: engine.evaluationId ?? '', nextCheckAt: result.nextCheckAt };
}

/** Resume a `start` snapshot, send whatever is due now, and return as soon as the engine wants to
 * wait (it never sleeps) or is done. */
export async function check(snapshot: string, options: CheckOptions = {}): Promise<CheckResult> {
  const engine = Engine.resume(
    snapshot,
    options.apiKey ?? fromEnv('DATADOG_API_KEY', 'DD_API_KEY'),
    options.appKey ?? fromEnv('DATADOG_APP_KEY', 'DD_APP_KEY'),
    Date.now(),
  );
  const result = await loop(engine, 'future_wait', options);
  if (result.done) return { done: true, outcome: result.outcome };
  return { done: false, snapshot: result.snapshot, nextCheckAt: result.nextCheckAt };
}

/** Validate a pipeline config offline (text or object): every problem with its JSON path (and line
 * and column for text); a query that does not parse is a problem here. */
export function validate(config: string | object, options: ValidateOptions = {}): Validation {
  const v = native(() => binding.validate(config, options.version), 'invalid_config');
  const out: Validation = { valid: v.valid, problems: v.problems, warnings: v.warnings };
  if (v.configuration !== undefined && v.configuration !== null) out.configuration = v.configuration;
  return out;
}

/** The outcome for terminals and CI logs. */
export function renderText(outcome: Outcome, options: RenderTextOptions = {}): string {
  return native(() => binding.renderText(outcome, options.color ?? false));
}

/** The outcome as markdown (a CI step summary). */
export function renderMarkdown(outcome: Outcome): string {
  return native(() => binding.renderMarkdown(outcome));
}

/** The version of the engine inside the addon. */
export const engineVersion: string = binding.engineVersion();
