// A minimal Deployment Gates API on loopback for the JS driver tests of both packages
// (@gatepost/node and @gatepost/wasm); the service name picks the behaviour. The end-to-end tests
// use the real emulator; this one needs nothing built.
import { randomUUID } from 'node:crypto';
import http from 'node:http';

export const API_KEY = 'test-api-key-js-3c1f9a';
export const APP_KEY = 'test-app-key-js-7d20b4';

/**
 * Services:
 * - `pass`, `fail`: the gate's result on the first poll;
 * - `dry`: a dry-run gate (the API says pass, its rule failed);
 * - `slow`: in_progress for two polls, then pass;
 * - `hang`: results are never answered;
 * - `redirect`: a 307 on the trigger;
 * - `huge`: a result body above 1 MiB;
 * - `flaky`: the first trigger of this service gets a 503 with `Retry-After: 0`.
 *
 * `validate(config, {online: true})`: the monitor search answers every query with one monitor in
 * `OK`, or none when the query has `team:none`; the spans search has spans for service `checkout`
 * only, and refuses service `noscope` with a 403 (a key without `apm_read`).
 *
 * `stats` counts triggers (in all and by service), result polls and requests with wrong keys,
 * collects the user agents seen, and lists the search URLs asked (`searches`).
 */
export async function startFakeApi() {
  const evaluations = new Map();
  const stats = { triggers: 0, triggersBy: {}, results: 0, badKeys: 0, userAgents: new Set(), searches: [] };
  const hanging = new Set();
  const server = http.createServer((req, res) => {
    const reply = (status, body, headers = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    stats.userAgents.add(req.headers['user-agent']);
    if (req.headers['dd-api-key'] !== API_KEY || req.headers['dd-application-key'] !== APP_KEY) {
      stats.badKeys++;
      return reply(403, { errors: ['Forbidden'] });
    }
    let text = '';
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/api/v2/deployments/gates/evaluation') {
        stats.triggers++;
        const { service } = JSON.parse(text).data.attributes;
        const nth = (stats.triggersBy[service] = (stats.triggersBy[service] ?? 0) + 1);
        if (service === 'redirect') return reply(307, '', { location: 'http://127.0.0.1:9/elsewhere' });
        if (service === 'flaky' && nth === 1) {
          return reply(503, { errors: ['Service Unavailable'] }, { 'retry-after': '0' });
        }
        const id = randomUUID();
        evaluations.set(id, { service, polls: 0 });
        return reply(202, { data: { id, type: 'deployment_gates_evaluation_response', attributes: { evaluation_id: id } } });
      }
      const url = new URL(req.url, 'http://fake');
      if (req.method === 'GET' && url.pathname === '/api/v1/monitor/search') {
        stats.searches.push(req.url);
        const none = url.searchParams.get('query').includes('team:none');
        const monitors = none ? [] : [{ id: 7, name: 'checkout errors', status: 'OK', type: 'query alert' }];
        return reply(200, { monitors, metadata: { page: 0, page_count: monitors.length, per_page: 100, total_count: monitors.length } });
      }
      if (req.method === 'GET' && url.pathname === '/api/v2/spans/events') {
        stats.searches.push(req.url);
        const query = url.searchParams.get('filter[query]');
        if (query.includes('service:"noscope"')) return reply(403, { errors: ['Forbidden'] });
        const data = query.includes('service:"checkout"') && !query.includes('version:')
          ? [{ id: 'a1', type: 'spans', attributes: { service: 'checkout', env: 'prod', version: 'v1' } }]
          : [];
        return reply(200, { data, meta: { status: 'done' } });
      }
      const m = req.url.match(/^\/api\/v2\/deployments\/gates\/evaluation\/([0-9a-f-]+)$/);
      if (req.method === 'GET' && m && evaluations.has(m[1])) {
        stats.results++;
        const evaluation = evaluations.get(m[1]);
        evaluation.polls++;
        if (evaluation.service === 'hang') {
          hanging.add(res);
          return undefined;
        }
        if (evaluation.service === 'huge') return reply(200, ' '.repeat(2 * 1024 * 1024));
        const ruleStatus =
          { pass: 'pass', fail: 'fail', dry: 'fail', flaky: 'pass' }[evaluation.service] ??
          (evaluation.polls > 2 ? 'pass' : 'in_progress');
        const gateStatus = evaluation.service === 'dry' ? 'pass' : ruleStatus;
        return reply(200, {
          data: {
            id: m[1],
            type: 'deployment_gates_evaluation_result_response',
            attributes: {
              dry_run: evaluation.service === 'dry',
              evaluation_id: m[1],
              evaluation_url: `https://app.datadoghq.com/ci/deployment-gates/evaluations?id=${m[1]}`,
              gate_id: null,
              gate_status: gateStatus,
              rules: [
                {
                  name: 'Service monitors',
                  status: ruleStatus,
                  dry_run: false,
                  ...(ruleStatus === 'fail' ? { reason: 'One monitor in ALERT state' } : {}),
                },
              ],
            },
          },
        });
      }
      return reply(404, { errors: [{ status: '404', title: 'Not Found', detail: 'not found' }] });
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
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
