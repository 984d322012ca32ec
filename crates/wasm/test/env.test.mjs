// The environment rules through @gatepost/wasm: the suite shared with @gatepost/node
// (crates/node/test/shared/env-suite.mjs, one fake API for both back ends).
import * as gatepost from '../pkg/node/gatepost.mjs';
import { envSuite } from '../../node/test/shared/env-suite.mjs';

envSuite({ gatepost });
