// A minimal Deployment Gates API on loopback for the driver tests; the service name picks the
// behaviour. (The end-to-end tests use the real emulator; this one needs nothing built.)
import { randomUUID } from "node:crypto";
import http from "node:http";

export const API_KEY = "test-api-key-wasm-41d7c2";
export const APP_KEY = "test-app-key-wasm-8e03af";

/**
 * Services: `pass`, `fail`, `slow` (in_progress twice, then pass), `hang` (results never answered),
 * `redirect` (307 on the trigger), `huge` (a result body above 1 MiB), `flaky` (the first trigger
 * gets a 503 with Retry-After: 0).
 */
export async function startFakeApi() {
  const evaluations = new Map();
  const stats = { triggers: 0, results: 0, userAgents: new Set() };
  const hanging = new Set();
  const server = http.createServer((req, res) => {
    const reply = (status, body, headers = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(typeof body === "string" ? body : JSON.stringify(body));
    };
    stats.userAgents.add(req.headers["user-agent"]);
    if (req.headers["dd-api-key"] !== API_KEY || req.headers["dd-application-key"] !== APP_KEY) {
      return reply(403, { errors: ["Forbidden"] });
    }
    let text = "";
    req.on("data", (chunk) => (text += chunk));
    req.on("end", () => {
      if (req.method === "POST" && req.url === "/api/v2/deployments/gates/evaluation") {
        stats.triggers++;
        const { service } = JSON.parse(text).data.attributes;
        if (service === "redirect") return reply(307, "", { location: "http://127.0.0.1:9/elsewhere" });
        if (service === "flaky" && stats.triggers === 1) return reply(503, { errors: ["Service Unavailable"] }, { "retry-after": "0" });
        const id = randomUUID();
        evaluations.set(id, { service, polls: 0 });
        return reply(202, { data: { id, type: "deployment_gates_evaluation_response", attributes: { evaluation_id: id } } });
      }
      const m = req.url.match(/^\/api\/v2\/deployments\/gates\/evaluation\/([0-9a-f-]+)$/);
      if (req.method === "GET" && m && evaluations.has(m[1])) {
        stats.results++;
        const evaluation = evaluations.get(m[1]);
        evaluation.polls++;
        if (evaluation.service === "hang") {
          hanging.add(res);
          return undefined;
        }
        if (evaluation.service === "huge") return reply(200, " ".repeat(2 * 1024 * 1024));
        const status =
          { pass: "pass", fail: "fail", flaky: "pass" }[evaluation.service] ?? (evaluation.polls > 2 ? "pass" : "in_progress");
        return reply(200, {
          data: {
            id: m[1],
            type: "deployment_gates_evaluation_result_response",
            attributes: {
              dry_run: false,
              evaluation_id: m[1],
              evaluation_url: `https://app.datadoghq.com/ci/deployment-gates/evaluations?id=${m[1]}`,
              gate_id: null,
              gate_status: status,
              rules: [
                { name: "Service monitors", status, dry_run: false, ...(status === "fail" ? { reason: "One monitor in ALERT state" } : {}) },
              ],
            },
          },
        });
      }
      return reply(404, { errors: [{ status: "404", title: "Not Found", detail: "not found" }] });
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stats,
    close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
