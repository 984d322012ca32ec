// A Deployment Gate as an edge function, in the Workers `fetch(request, env)` shape.
//
//   POST /gates        {"service", "env", "identifier"?, "version"?, "config"?}
//                      → 202 {"id", "done": false, "nextCheckAt"}  (or 200 {"done": true, "outcome"})
//   GET  /gates/:id    → 200 {"id", "done": false, "nextCheckAt"} or {"id", "done": true, "outcome"}
//
// An edge function cannot wait for the hours a gate may take, so it never sleeps: `start` triggers
// the evaluation and returns once the server accepted it; the snapshot (JSON, no keys) goes to KV;
// each GET runs at most one `check`, which sends whatever is due and returns at once. A pipeline (or
// a cron trigger) polls the GET until `done`.
//
// Bindings: GATES (a KV namespace), DD_API_KEY and DD_APP_KEY (secrets), DD_SITE or
// GATEPOST_API_URL (vars), GATEPOST_POLL_INTERVAL (optional, seconds).
import { check, start } from "@gatepost/wasm/web";

const json = (status, body) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

/** Options every call shares: where the API is, and the keys from the Worker's secrets. */
function connection(env) {
  return {
    site: env.GATEPOST_API_URL ? undefined : env.DD_SITE,
    apiUrl: env.GATEPOST_API_URL || undefined,
    apiKey: env.DD_API_KEY || undefined,
    appKey: env.DD_APP_KEY || undefined,
  };
}

async function save(env, id, record) {
  // Finished evaluations are kept a day; running ones as long as a gate may run (3 h) plus margin.
  const ttl = record.done ? 86_400 : 4 * 3_600;
  await env.GATES.put(`gate:${id}`, JSON.stringify(record), { expirationTtl: ttl });
}

async function startGate(request, env) {
  let body;
  try {
    body = await request.json();
  } catch {
    return json(400, { error: "expected a JSON body" });
  }
  const { service, env: environment, identifier, version, config } = body ?? {};
  const pollInterval = env.GATEPOST_POLL_INTERVAL ? Number(env.GATEPOST_POLL_INTERVAL) : undefined;
  let result;
  try {
    result = await start({ ...connection(env), service, env: environment, identifier, version, config, pollInterval });
  } catch (error) {
    // Bad options or an invalid config: a GatepostError listing every problem.
    return json(400, { error: error.message, code: error.code, problems: error.problems ?? [] });
  }
  if (result.done) return json(200, { done: true, outcome: result.outcome });
  const id = result.evaluationId;
  await save(env, id, { done: false, snapshot: result.snapshot, nextCheckAt: result.nextCheckAt });
  return json(202, { id, done: false, nextCheckAt: result.nextCheckAt });
}

async function checkGate(id, env) {
  const stored = await env.GATES.get(`gate:${id}`);
  if (stored === null) return json(404, { error: `no evaluation ${id}` });
  const record = JSON.parse(stored);
  if (record.done) return json(200, { id, done: true, outcome: record.outcome });
  // Not due yet: answer from KV without touching the API.
  if (Date.now() < record.nextCheckAt) return json(200, { id, done: false, nextCheckAt: record.nextCheckAt });
  const { apiKey, appKey } = connection(env);
  const result = await check(record.snapshot, { apiKey, appKey });
  if (result.done) {
    await save(env, id, { done: true, outcome: result.outcome });
    return json(200, { id, done: true, outcome: result.outcome });
  }
  await save(env, id, { done: false, snapshot: result.snapshot, nextCheckAt: result.nextCheckAt });
  return json(200, { id, done: false, nextCheckAt: result.nextCheckAt });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (request.method === "POST" && url.pathname === "/gates") return startGate(request, env);
    const match = url.pathname.match(/^\/gates\/([0-9a-f-]{36})$/);
    if (request.method === "GET" && match) return checkGate(match[1], env);
    return json(404, { error: "POST /gates or GET /gates/:id" });
  },
};
