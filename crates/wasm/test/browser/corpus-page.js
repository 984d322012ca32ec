// Runs every scenario of tests/scenarios through the `web` build in this page, with the same
// runner as Node (crates/node/test/corpus-runner.mjs), and leaves the results in
// `window.__corpus` for the test driving the browser.
import init, { Engine } from "/pkg/web/gatepost.js";
import { runScenario } from "/node-test/corpus-runner.mjs";

async function run() {
  await init();
  const index = await (await fetch("/scenarios/index.json")).json();
  const results = [];
  for (const file of index.files) {
    const topic = await (await fetch(`/scenarios/${file}`)).json();
    for (const scenario of topic.scenarios) {
      const name = `${file.replace(/\.json$/, "")} / ${scenario.name}`;
      try {
        runScenario({ Engine }, scenario);
        results.push({ name, ok: true });
      } catch (error) {
        results.push({ name, ok: false, error: String(error?.message ?? error) });
      }
    }
  }
  return results;
}

run().then(
  (results) => {
    window.__corpus = { results, userAgent: navigator.userAgent };
    document.getElementById("status").textContent = `${results.filter((r) => r.ok).length} of ${results.length} passed`;
  },
  (error) => {
    window.__corpus = { error: String(error?.stack ?? error) };
    document.getElementById("status").textContent = `failed: ${error}`;
  },
);
