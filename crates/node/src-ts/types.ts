// The public types of @gatepost/node: the shared JS API types (api-types.ts, the same in
// @gatepost/wasm) plus the Node-only option, `configPath`.
import type { EvaluateOptions as SharedEvaluateOptions } from './api-types';

export type * from './api-types';

export interface EvaluateOptions extends SharedEvaluateOptions {
  /** Read the pipeline config from this file (Node only). Excludes `config`. */
  configPath?: string;
}
