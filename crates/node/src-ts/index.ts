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
 * CLI and every other binding. The host driver (HTTP with `fetch`, sleeps with timers) is
 * `driver.ts`, shared with @gatepost/wasm; this module gives it the napi engine and the Node-only
 * parts: `configPath`, `process.env`, `node:crypto` and the proxy from the environment.
 */
import { open } from 'node:fs/promises';
import { checkWith, evaluateWith, resumeWith, startWith, validateOnlineWith, type Host } from './driver';
import { Engine } from './engine';
import { GatepostError, native } from './errors';
import { binding } from './native';
import { randomSeed } from './gates';
import { createOnlineCheck, type OnlineReport, type OnlineValidateOptions } from './online';
import { envDefaults } from './environment';
import { nodeRoute } from './proxy';
import type {
  CheckOptions,
  CheckResult,
  EvaluateOptions,
  EvaluationOutcome,
  MonitorMatch,
  Outcome,
  Problem,
  QueryMonitor,
  RenderTextOptions,
  ResumeOptions,
  StartResult,
  Validation,
  ValidateOptions,
} from './types';

export { Engine } from './engine';
export { GatepostError } from './errors';
export { classify as classifyFetchError } from './driver';
export { envDefaults, proxyFor } from './environment';
export type { Environment } from './environment';
export type { EnvDefaults } from './driver';
export { gates, planGates, applyGates, exportGates, renderGatesPlan } from './gates';
export type { GatesChange, GatesPlan, GatesReport, GatesScope, GatesOptions, GatesFileOptions } from './gates';
export { renderOnlineReport } from './online';
export type { ApmCheck, FoundMonitor, OnlineReport, OnlineRuleCheck, OnlineValidateOptions } from './online';
export type * from './types';


/** The shared driver's Node side: the napi engine, process.env, node:crypto, and HTTPS_PROXY /
 * NO_PROXY honoured through undici (Node's global fetch ignores them). */
const host: Host<Engine> = {
  create: (options, now) => new Engine(options, now),
  resume: (snapshot, apiKey, appKey, now) => Engine.resume(snapshot, apiKey, appKey, now),
  resumeFor: (snapshot, options, now) => Engine.resumeFor(snapshot, options, now),
  GatepostError,
  environment: () => process.env,
  envDefaults,
  camelCaseError: (error) => {
    if (!(error instanceof GatepostError)) return error;
    const spelled = binding.camelCaseError({ code: error.code, message: error.message, problems: error.problems ?? [] });
    return new GatepostError(spelled.code, spelled.message, spelled.problems as Problem[] | undefined);
  },
  seed: randomSeed,
  route: nodeRoute(process.env),
  createOnlineCheck,
};

/**
 * A config file larger than this is refused, as in the CLI and the Python package: a mistaken path
 * such as `/dev/zero` must fail with a clear error instead of reading until memory runs out.
 */
const MAX_CONFIG_FILE_BYTES = 16 << 20;

/** The config file's text, read in chunks and refused past {@link MAX_CONFIG_FILE_BYTES}. */
async function readConfigFile(path: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(64 << 10);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > MAX_CONFIG_FILE_BYTES) throw new Error('larger than 16 MiB: is it the right file?');
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    await handle.close();
  }
}

/** `configPath` (Node only) read into `config`; anything else is left to the shared driver. */
async function withConfigFile(options: EvaluateOptions): Promise<EvaluateOptions> {
  if (typeof options !== 'object' || options === null) return options;
  const { configPath, ...rest } = options;
  if (configPath === undefined) return rest;
  if (rest.config !== undefined) {
    throw new GatepostError('invalid_options', 'invalid options: config and configPath are both given', [
      { path: 'configPath', message: 'config and configPath are both given', hint: 'pass one of them' },
    ]);
  }
  try {
    return { ...rest, config: await readConfigFile(configPath) };
  } catch (error) {
    const message = `cannot read the config file ${configPath}: ${(error as Error).message}`;
    throw new GatepostError('invalid_options', `invalid options: ${message}`, [{ path: 'configPath', message }]);
  }
}

/**
 * Evaluate a gate: trigger, poll, and resolve with the outcome (`verdict`, `exit_code`, `cause`,
 * rules). Never rejects for server behaviour — outages and timeouts are outcomes, decided by the
 * engine's policy; rejects with `GatepostError` for invalid options or config. Aborting `signal`
 * resolves with a `cancelled` outcome carrying a `snapshot` for `resume`.
 */
export async function evaluate(options: EvaluateOptions): Promise<EvaluationOutcome> {
  return evaluateWith(host, await withConfigFile(options));
}

/** Continue an evaluation from a snapshot (of a cancelled outcome, of `start`/`check`, or of
 * another language's engine). Keys default to the environment, as in `evaluate`. */
export async function resume(snapshot: string, options: ResumeOptions = {}): Promise<EvaluationOutcome> {
  return resumeWith(host, snapshot, options);
}

/**
 * For short-lived runtimes (serverless, CI steps that must not block): trigger the evaluation and
 * return as soon as the server gave an evaluation id, with a snapshot to `check` later (at
 * `nextCheckAt`, Unix-epoch ms). Trigger retries happen inside, within the trigger budget.
 */
export async function start(options: EvaluateOptions): Promise<StartResult> {
  return startWith(host, await withConfigFile(options));
}

/** Resume a `start` snapshot, send whatever is due now, and return as soon as the engine wants to
 * wait (it never sleeps) or is done. */
export async function check(snapshot: string, options: CheckOptions = {}): Promise<CheckResult> {
  return checkWith(host, snapshot, options);
}

/** Validate a pipeline config offline (text or object): every problem with its JSON path (and line
 * and column for text); a query that does not parse is a problem here.
 *
 * With `{online: true}` (a promise): also search each monitor rule's query in Datadog and report
 * how many monitors match (0 or over 50 are `problems`, with the rule's path) and which fail the
 * rule now (`rules[].would_fail_now`, a warning); docs/validate-online.md. Pass `undefined` as the
 * config and `service`/`env` to check a preconfigured gate's rules; with a config, `service`/`env`
 * let Faulty Deployment Detection rules be checked for APM data (`rules[].apm`; none in the last
 * 24 hours is a warning). */
export function validate(config: string | object, options?: ValidateOptions & { online?: false }): Validation;
export function validate(config: string | object | undefined, options: OnlineValidateOptions): Promise<OnlineReport>;
export function validate(
  config: string | object | undefined,
  options: (ValidateOptions & { online?: false }) | OnlineValidateOptions = {},
): Validation | Promise<OnlineReport> {
  if (options.online === true) return validateOnlineWith(host, config, options);
  if (config === undefined) throw new TypeError('validate: give a config (or {online: true} with service and env)');
  const v = native(
    () => binding.validate(config, options.version, options.allowUnknownKeys ?? false),
    'invalid_config',
  );
  const out: Validation = { valid: v.valid, problems: v.problems, warnings: v.warnings };
  if (v.configuration !== undefined && v.configuration !== null) out.configuration = v.configuration;
  return out;
}

/** The monitors (and their groups) a monitor rule with this query selects, in the monitors' order
 * (docs/query-semantics.md). Throws `invalid_input` for a query that does not parse or a malformed
 * monitor, with the place in `problems`. */
export function matchMonitors(query: string, monitors: QueryMonitor[]): MonitorMatch[] {
  return native(() => binding.matchMonitors(query, monitors));
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
