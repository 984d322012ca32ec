// A minimal Deployment Gates API on loopback for driver tests: the service name picks the
// behaviour. (The end-to-end tests use the real emulator; this one needs nothing built.)
import http from 'node:http';
import { randomUUID } from 'node:crypto';

export const API_KEY = 'test-api-key-node-3c1f9a';
export const APP_KEY = 'test-app-key-node-7d20b4';

/** Behaviours by service: `pass`, `fail`, `dry` (dry run: API says pass, a rule failed), `slow`
 * (in_progress for `polls` polls, then pass), `hang` (results never answered), `redirect`. */
export async function startFakeApi() {
  const evaluations = new Map();
  const stats = { triggers: 0, results: 0, badKeys: 0 };
  const hanging = new Set();
  const server = http.createServer((req, res) => {
    const reply = (status, body, headers = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (req.headers['dd-api-key'] !== API_KEY || req.headers['dd-application-key'] !== APP_KEY) {
      stats.badKeys++;
      return reply(403, { errors: ['Forbidden'] });
    }
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/api/v2/deployments/gates/evaluation') {
        stats.triggers++;
        const attrs = JSON.parse(text).data.attributes;
        if (attrs.service === 'redirect') return reply(307, {}, { location: 'http://127.0.0.1:9/' });
        const id = randomUUID();
        evaluations.set(id, { service: attrs.service, polls: 0 });
        return reply(202, { data: { id, type: 'deployment_gates_evaluation_response', attributes: { evaluation_id: id } } });
      }
      const m = req.url.match(/^\/api\/v2\/deployments\/gates\/evaluation\/([0-9a-f-]+)$/);
      if (req.method === 'GET' && m && evaluations.has(m[1])) {
        stats.results++;
        const ev = evaluations.get(m[1]);
        ev.polls++;
        if (ev.service === 'hang') {
          hanging.add(res);
          return;
        }
        const ruleStatus = { pass: 'pass', fail: 'fail', dry: 'fail' }[ev.service] ?? (ev.polls > 2 ? 'pass' : 'in_progress');
        const gateStatus = ev.service === 'dry' ? 'pass' : ruleStatus;
        return reply(200, {
          data: {
            id: m[1],
            type: 'deployment_gates_evaluation_result_response',
            attributes: {
              dry_run: ev.service === 'dry',
              evaluation_id: m[1],
              evaluation_url: `https://app.datadoghq.com/ci/deployment-gates/evaluations?id=${m[1]}`,
              gate_id: null,
              gate_status: gateStatus,
              rules: [{ name: 'Service monitors', status: ruleStatus, dry_run: false, ...(ruleStatus === 'fail' ? { reason: 'One monitor in ALERT state' } : {}) }],
            },
          },
        });
      }
      reply(404, { errors: [{ status: '404', title: 'Not Found', detail: 'not found' }] });
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stats,
    close: () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}
