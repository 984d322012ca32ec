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

/** A native error (`.code`, `.problems`) as a GatepostError; anything else is rethrown as is. */
export function toGatepostError(error: unknown): unknown {
  if (error instanceof GatepostError) return error;
  if (error instanceof Error) {
    const { code, problems } = error as Error & { code?: unknown; problems?: unknown };
    if (typeof code === 'string' && /^[a-z_]+$/.test(code)) {
      return new GatepostError(code, error.message, Array.isArray(problems) ? (problems as Problem[]) : undefined);
    }
  }
  return error;
}

/** Run `f`, turning a native error into a GatepostError. */
export function native<T>(f: () => T): T {
  try {
    return f();
  } catch (error) {
    throw toGatepostError(error);
  }
}
