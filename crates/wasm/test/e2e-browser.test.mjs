// End to end in a browser: examples/browser/ served on loopback evaluates a gate against the
// emulator (cross-origin, so the emulator's CORS answers are part of the test) and shows the
// outcome; the test reads the page's DOM.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { serveStatic, withChromium } from "./helpers/browser.mjs";
import { startEmulator } from "./helpers/emulator.mjs";
import { pkgDir, rootDir } from "./helpers/paths.mjs";

let emulator;
let alerting;
let site;
before(async () => {
  emulator = await startEmulator("examples/worlds/healthy.json");
  alerting = await startEmulator("examples/worlds/alerting.json");
  site = await serveStatic({
    "/node_modules/@gatepost/wasm/": pkgDir,
    "/": path.join(rootDir, "examples/browser"),
  });
});
after(async () => {
  await site?.close();
  await emulator?.stop();
  await alerting?.stop();
});

/** Open the example against `apiUrl`, let it evaluate, and read what the page shows. */
function evaluateInPage(apiUrl) {
  const query = new URLSearchParams({ apiUrl, service: "checkout", env: "prod", version: "v2", pollInterval: "1", timeout: "120", run: "1" });
  return withChromium(`${site.url}/index.html?${query}`, async (page) => {
    const state = await page.waitFor(
      "const s = document.body.dataset.state; return s === 'done' || s === 'error' ? s : null",
      90_000,
    );
    return page.eval(`return {
      state: ${JSON.stringify(state)},
      verdict: document.getElementById("verdict").dataset.verdict,
      cause: document.getElementById("verdict").dataset.cause,
      heading: document.getElementById("verdict").textContent,
      message: document.getElementById("message").textContent,
      rules: [...document.querySelectorAll("#rules li")].map((li) => ({ status: li.dataset.status, text: li.textContent })),
      events: [...document.querySelectorAll("#events li")].map((li) => li.textContent),
      report: document.getElementById("report").textContent,
    }`);
  });
}

test("the browser example evaluates a gate against the emulator and shows a pass", async () => {
  const dom = await evaluateInPage(emulator.url);
  assert.equal(dom.state, "done", `${dom.heading}: ${dom.message}`);
  assert.equal(dom.verdict, "pass");
  assert.equal(dom.cause, "gate_passed");
  assert.equal(dom.heading, "PASS (gate_passed)");
  assert.deepEqual(dom.rules.map((r) => r.status), ["pass", "pass"]);
  assert.ok(dom.rules.some((r) => r.text.startsWith("Checkout monitors")), JSON.stringify(dom.rules));
  assert.ok(dom.events.length > 0, "progress events are shown");
  assert.ok(dom.report.length > 0);
});

test("the browser example shows a failing gate with the failed rule's reason", async () => {
  const dom = await evaluateInPage(alerting.url);
  assert.equal(dom.state, "done", `${dom.heading}: ${dom.message}`);
  assert.equal(dom.verdict, "fail");
  assert.equal(dom.cause, "gate_failed");
  const failed = dom.rules.find((r) => r.status === "fail");
  assert.ok(failed, JSON.stringify(dom.rules));
  assert.match(failed.text, /ALERT/);
});
