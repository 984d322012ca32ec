// The conformance corpus in headless Chromium: the `web` build, in a page served on loopback,
// through the same runner as in Node. Each scenario is one test here.
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { serveStatic, withChromium } from "./helpers/browser.mjs";
import { crateDir, pkgDir, rootDir, scenariosDir } from "./helpers/paths.mjs";

test("the conformance corpus in headless Chromium", async (t) => {
  const server = await serveStatic({
    "/pkg/": pkgDir,
    "/scenarios/": scenariosDir,
    "/node-test/": path.join(rootDir, "crates/node/test"),
    "/": path.join(crateDir, "test/browser"),
  });
  try {
    const corpus = await withChromium(`${server.url}/corpus.html`, (page) => page.waitFor("return window.__corpus", 60_000));
    assert.equal(corpus.error, undefined, corpus.error);
    assert.match(corpus.userAgent, /Chrome/);
    assert.ok(corpus.results.length > 0);
    for (const result of corpus.results) {
      await t.test(result.name, () => assert.ok(result.ok, result.error));
    }
  } finally {
    await server.close();
  }
});
