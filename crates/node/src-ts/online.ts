// `validate(config, {online: true})`: core's sans-IO online check (the same as
// `gatepost validate --online`, docs/validate-online.md) driven by the shared host loop.
import { native } from './errors';
import { driveToReport, runOptions, type GatesOptions, type NativeReportRun } from './gates';
import { binding } from './native';
import type { Problem } from './types';

/** A monitor the search found, with its overall state (`OK`, `Alert`, `No Data`, ...). */
export interface FoundMonitor {
  id: number;
  name: string;
  status: string;
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
  note?: string;
}

/** The report of an online check. `problems` (0 or over 50 matches, with the rule's path) make
 * `ok` false; `error` says the API could not be read. */
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

export interface OnlineValidateOptions extends GatesOptions {
  online: true;
  /** The version being deployed (for the offline checks of FDD rules). */
  version?: string;
  allowUnknownKeys?: boolean;
  /** With no config: the preconfigured gate whose rules to check. */
  service?: string;
  env?: string;
  identifier?: string;
  /** The whole check gives up after this many seconds (default 120). */
  timeout?: number;
}

type OnlineBinding = {
  OnlineCheck: new (options: object, source: object, now: number) => NativeReportRun<OnlineReport>;
  renderOnlineReport(report: object, format: 'text' | 'markdown'): string;
};

const onlineBinding = binding as unknown as OnlineBinding;

/** An online report for people (`text`) or a pull-request comment (`markdown`). */
export function renderOnlineReport(report: OnlineReport, format: 'text' | 'markdown' = 'text'): string {
  return native(() => onlineBinding.renderOnlineReport(report, format));
}

/** Run the online check for a config (text or object), or for `options.service`/`env`'s gate. */
export async function validateOnline(config: string | object | undefined, options: OnlineValidateOptions): Promise<OnlineReport> {
  const engineOptions = runOptions(options);
  if (options.timeout !== undefined) engineOptions.timeout = options.timeout;
  let source: Record<string, unknown>;
  if (config !== undefined) {
    source = { source: 'config', config, allow_unknown_keys: options.allowUnknownKeys ?? false };
    if (options.version !== undefined) source.version = options.version;
  } else {
    source = { source: 'gate', service: options.service ?? '', env: options.env ?? '' };
    if (options.identifier !== undefined) source.identifier = options.identifier;
  }
  const run = native(() => new onlineBinding.OnlineCheck(engineOptions, source, Date.now()), 'invalid_options');
  return driveToReport(run, options);
}
