// The query-semantics corpus through the WebAssembly module's matchMonitors (the nodejs build),
// with the Node package's runner.
import { test } from "node:test";
import path from "node:path";
import { matchMonitors } from "../pkg/node/gatepost.mjs";
import { runQueryCorpus } from "../../node/test/queries-runner.mjs";
import { rootDir } from "./helpers/paths.mjs";

runQueryCorpus(matchMonitors, { test, dir: path.join(rootDir, "tests/queries") });
