// `validate(config, {online: true})`: core's sans-IO online check (the same as
// `gatepost validate --online`, docs/validate-online.md), driven by the shared driver's
// `validateOnlineWith` (src-ts/driver.ts), as @gatepost/wasm drives it; the report types are the
// shared ones (api-types.ts).
import { native } from './errors';
import type { ReportRun } from './driver';
import { binding } from './native';
import type { OnlineReport } from './api-types';

export type { ApmCheck, FoundMonitor, OnlineReport, OnlineRuleCheck, OnlineValidateOptions } from './api-types';

type OnlineBinding = {
  OnlineCheck: new (options: object, source: object, now: number) => ReportRun<OnlineReport>;
  renderOnlineReport(report: object, format: 'text' | 'markdown'): string;
};

const onlineBinding = binding as unknown as OnlineBinding;

/** An online report for people (`text`) or a pull-request comment (`markdown`). */
export function renderOnlineReport(report: OnlineReport, format: 'text' | 'markdown' = 'text'): string {
  return native(() => onlineBinding.renderOnlineReport(report, format));
}

/** The napi online check, for the shared driver's host. */
export function createOnlineCheck(options: object, source: object, now: number): ReportRun<OnlineReport> {
  return native(() => new onlineBinding.OnlineCheck(options, source, now), 'invalid_options');
}
