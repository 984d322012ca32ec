// The JS driver around the WebAssembly engine, in Node: the suite shared with @gatepost/node
// (crates/node/test/shared/driver-suite.mjs, one fake API for both back ends). Cases that differ
// by design stay in each package (this one has no configPath and no proxy support).
import * as gatepost from "../pkg/node/gatepost.mjs";
import { driverSuite } from "../../node/test/shared/driver-suite.mjs";

driverSuite({ backend: "wasm", gatepost });
