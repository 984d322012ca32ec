// The environment rules through @gatepost/node: the suite shared with @gatepost/wasm
// (shared/env-suite.mjs, one fake API for both back ends).
import * as gatepost from '../dist/index.mjs';
import { envSuite } from './shared/env-suite.mjs';

envSuite({ gatepost });
