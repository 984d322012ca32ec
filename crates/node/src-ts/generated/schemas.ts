// Provisional: written from crates/core/src/{io,event,outcome}.rs until schemas/*.schema.json are
// committed; then scripts/gen-types.mjs regenerates this file from them.

export interface RuleResult {
  name: string;
  status: string;
  reason?: string;
  dry_run?: boolean;
}

export interface ApiError {
  status?: number;
  details: string[];
}

export interface Outcome {
  schema_version: number;
  verdict: 'pass' | 'fail';
  exit_code: number;
  cause:
    | 'gate_passed'
    | 'gate_failed'
    | 'dry_run'
    | 'timeout'
    | 'api_unavailable'
    | 'client_error'
    | 'cancelled'
    | 'skipped';
  fail_open: boolean;
  message: string;
  evaluation_id: string | null;
  evaluation_url: string | null;
  gate_id: string | null;
  gate_status: string | null;
  dry_run: boolean;
  rules: RuleResult[];
  would_fail: boolean;
  requests: number;
  elapsed_ms: number;
  skip_reason?: string;
  error?: ApiError;
}

export type Event = (
  | { type: 'started'; evaluation_id: string; evaluation_url: string | null }
  | { type: 'progress'; completed: number; total: number }
  | {
      type: 'retrying';
      phase: 'trigger' | 'poll';
      attempt: number;
      status?: number;
      error?: string;
      delay_ms: number;
    }
  | { type: 'warning'; code: string; path?: string }
  | { type: 'ignored'; request_id: number }
  | { type: 'finished'; verdict: Outcome['verdict']; cause: Outcome['cause'] }
) & { message: string };

export type Action =
  | {
      type: 'send_request';
      request_id: number;
      method: string;
      url: string;
      headers: [string, string][];
      body?: string;
      timeout_ms: number;
      max_body_bytes: number;
    }
  | {
      type: 'wait';
      until: number;
      reason: 'awaiting_response' | 'retry_backoff' | 'poll_interval' | 'rules_due';
    }
  | { type: 'done'; outcome: Outcome };

export type Input =
  | {
      type: 'response';
      request_id: number;
      status: number;
      headers?: [string, string][];
      body?: string;
    }
  | {
      type: 'transport_error';
      request_id: number;
      kind: 'connect' | 'timeout' | 'reset' | 'tls' | 'body_too_large' | 'other';
      message?: string;
    }
  | { type: 'timeout' }
  | { type: 'cancel' };

export interface Config {
  dryRun?: boolean;
  dry_run?: boolean;
  rules: {
    type: string;
    name: string;
    dryRun?: boolean;
    dry_run?: boolean;
    options?: { [key: string]: unknown };
  }[];
}
