// Every scenario of the conformance corpus through the WebAssembly engine in Node (the nodejs build),
// with the Node package's runner: the runner is written against the shared JS API, so the adapter
// is just the Engine class. The same runner runs in headless Chromium (browser.test.mjs).
import { test } from "node:test";
import { Engine } from "../pkg/node/gatepost.mjs";
import { runCorpus } from "../../node/test/corpus-runner.mjs";
import { scenariosDir } from "./helpers/paths.mjs";

runCorpus({ Engine }, { test, dir: scenariosDir });
