// Evaluate a Deployment Gate from a page with @gatepost/wasm (the `web` build) and show the outcome.
// Form fields can be pre-filled from the query string (`?apiUrl=...&service=...`); `run=1` starts
// the evaluation at once.
import init, { evaluate, renderText } from "@gatepost/wasm/web";

const form = document.getElementById("gate");
const cancelButton = document.getElementById("cancel");
const $ = (id) => document.getElementById(id);

const params = new URLSearchParams(location.search);
for (const [name, value] of params) if (form.elements[name]) form.elements[name].value = value;

function show(outcome) {
  $("verdict").textContent = `${outcome.verdict.toUpperCase()} (${outcome.cause})`;
  $("verdict").dataset.verdict = outcome.verdict;
  $("verdict").dataset.cause = outcome.cause;
  $("message").textContent = outcome.message;
  $("rules").replaceChildren(
    ...outcome.rules.map((rule) => {
      const item = document.createElement("li");
      item.dataset.status = rule.status;
      item.textContent = `${rule.name}: ${rule.status}${rule.reason ? ` (${rule.reason})` : ""}`;
      return item;
    }),
  );
  $("report").textContent = renderText(outcome);
}

async function run() {
  const fields = Object.fromEntries(new FormData(form));
  const controller = new AbortController();
  cancelButton.disabled = false;
  cancelButton.onclick = () => controller.abort();
  document.body.dataset.state = "running";
  $("events").replaceChildren();
  try {
    const outcome = await evaluate({
      apiUrl: fields.apiUrl,
      service: fields.service,
      env: fields.env,
      identifier: fields.identifier || undefined,
      version: fields.version || undefined,
      pollInterval: Number(fields.pollInterval),
      timeout: Number(fields.timeout),
      signal: controller.signal,
      onEvent(event) {
        const item = document.createElement("li");
        item.textContent = event.message;
        $("events").append(item);
      },
    });
    show(outcome);
    document.body.dataset.state = "done";
  } catch (error) {
    // Bad options or an invalid config: a GatepostError with every problem.
    $("verdict").textContent = `error: ${error.code ?? ""}`;
    $("message").textContent = error.message;
    document.body.dataset.state = "error";
  } finally {
    cancelButton.disabled = true;
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  run();
});

await init();
if (params.get("run") === "1") run();
