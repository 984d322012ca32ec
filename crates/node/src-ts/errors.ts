import type { Problem } from './types';

/** Every error gatepost throws. Outcomes are never errors: only misuse (bad options, an invalid
 * config, an input the engine cannot read, a corrupt snapshot) throws. */
export class GatepostError extends Error {
  /** Stable: `invalid_config`, `invalid_options`, `invalid_input`, `unknown_request`,
   * `invalid_snapshot`. */
  readonly code: string;
  /** For `invalid_config` and `invalid_options`: every problem, each with its path. */
  readonly problems?: Problem[];

  constructor(code: string, message: string, problems?: Problem[]) {
    super(message);
    this.name = 'GatepostError';
    this.code = code;
    if (problems !== undefined && problems.length > 0) this.problems = problems;
  }
}

/** The error codes the engine gives (its stable `code` strings). */
const ENGINE_CODES = new Set(['invalid_config', 'invalid_options', 'invalid_input', 'unknown_request', 'invalid_snapshot']);

/**
 * A native error as a GatepostError. The engine's own errors keep their code and problems; a value
 * napi could not convert at all (`undefined`, a BigInt, a function, a cycle) gets `fallback`, the
 * code of what was being passed (`invalid_options` to a constructor, `invalid_input` to `handle`).
 */
export function toGatepostError(error: unknown, fallback: string): unknown {
  if (error instanceof GatepostError || !(error instanceof Error)) return error;
  const { code, problems } = error as Error & { code?: unknown; problems?: unknown };
  if (typeof code === 'string' && ENGINE_CODES.has(code)) {
    return new GatepostError(code, error.message, Array.isArray(problems) ? (problems as Problem[]) : undefined);
  }
  if (typeof code === 'string') return new GatepostError(fallback, `${fallback.replace('_', ' ')}: ${error.message}`);
  return error;
}

/** Run `f`, turning a native error into a GatepostError (`fallback`: see toGatepostError). */
export function native<T>(f: () => T, fallback = 'invalid_input'): T {
  try {
    return f();
  } catch (error) {
    throw toGatepostError(error, fallback);
  }
}
