// The fetch layer against servers on loopback: what each kind of server behaviour becomes as an
// engine input. No engine involved; no sleeps beyond the short timeouts under test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startRequest } from '../dist/driver.js';
import { classifyFetchError, proxyFor } from '../dist/index.js';

const direct = () => ({ fetch: globalThis.fetch });

function serve(handler) {
  return new Promise((resolve) => {
    const server = http.createServer(handler);
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}` }));
  });
}

const send = (url, extra = {}) => ({
  type: 'send_request',
  request_id: 7,
  method: 'GET',
  url,
  headers: [['DD-API-KEY', 'test-api-key-http']],
  timeout_ms: 2000,
  max_body_bytes: 1024,
  ...extra,
});

test('a response passes status, every header and the body', async (t) => {
  const { server, url } = await serve((req, res) => {
    res.setHeader('Retry-After', '3');
    res.setHeader('X-Seen-Key', req.headers['dd-api-key'] ?? '');
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end('{"errors":["down"]}');
  });
  t.after(() => server.close());
  const input = await startRequest(send(`${url}/x`), direct).result;
  assert.equal(input.type, 'response');
  assert.equal(input.request_id, 7);
  assert.equal(input.status, 503);
  assert.equal(input.body, '{"errors":["down"]}');
  const headers = Object.fromEntries(input.headers);
  assert.equal(headers['retry-after'], '3');
  assert.equal(headers['x-seen-key'], 'test-api-key-http');
});

test('a POST sends the body and the method', async (t) => {
  let seen;
  const { server, url } = await serve((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen = { method: req.method, body };
      res.writeHead(202).end('{}');
    });
  });
  t.after(() => server.close());
  const input = await startRequest(send(url, { method: 'POST', body: '{"a":1}' }), direct).result;
  assert.equal(input.status, 202);
  assert.deepEqual(seen, { method: 'POST', body: '{"a":1}' });
});

test('a redirect is not followed: the 3xx itself is fed to the engine', async (t) => {
  let hits = 0;
  const { server, url } = await serve((req, res) => {
    hits++;
    res.writeHead(302, { location: 'http://127.0.0.1:9/elsewhere' }).end();
  });
  t.after(() => server.close());
  const input = await startRequest(send(url), direct).result;
  assert.equal(input.type, 'response');
  assert.equal(input.status, 302);
  assert.equal(Object.fromEntries(input.headers).location, 'http://127.0.0.1:9/elsewhere');
  assert.equal(hits, 1);
});

test('a body above max_body_bytes is body_too_large, with or without content-length', async (t) => {
  const { server, url } = await serve((req, res) => {
    if (req.url === '/chunked') {
      res.writeHead(200);
      res.write('x'.repeat(800));
      res.end('y'.repeat(800));
    } else {
      res.writeHead(200, { 'content-length': '5000' }).end('z'.repeat(5000));
    }
  });
  t.after(() => server.close());
  for (const path of ['/chunked', '/declared']) {
    const input = await startRequest(send(url + path), direct).result;
    assert.equal(input.type, 'transport_error', path);
    assert.equal(input.kind, 'body_too_large', path);
  }
  const exact = await startRequest(send(`${url}/chunked`, { max_body_bytes: 1600 }), direct).result;
  assert.equal(exact.type, 'response');
  assert.equal(exact.body.length, 1600);
});

test('invalid UTF-8 is decoded lossily and a BOM is kept', async (t) => {
  const { server, url } = await serve((req, res) => {
    res.writeHead(200).end(Buffer.from([0xef, 0xbb, 0xbf, 0x41, 0xff, 0x42]));
  });
  t.after(() => server.close());
  const input = await startRequest(send(url), direct).result;
  assert.equal(input.body, '\ufeffA\ufffdB');
});

test('no answer within timeout_ms is a timeout', async (t) => {
  const { server, url } = await serve(() => {});
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const started = Date.now();
  const input = await startRequest(send(url, { timeout_ms: 150 }), direct).result;
  assert.equal(input.type, 'transport_error');
  assert.equal(input.kind, 'timeout');
  assert.ok(Date.now() - started < 1500);
});

test('a refused connection is connect', async () => {
  const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  const input = await startRequest(send(`http://127.0.0.1:${port}/`), direct).result;
  assert.equal(input.type, 'transport_error');
  assert.equal(input.kind, 'connect');
  assert.match(input.message, /ECONNREFUSED/);
  assert.doesNotMatch(input.message, /test-api-key-http/);
});

test('a connection reset mid-request is reset', async (t) => {
  const server = net.createServer((socket) => socket.on('data', () => socket.resetAndDestroy()));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const input = await startRequest(send(`http://127.0.0.1:${server.address().port}/`), direct).result;
  assert.equal(input.type, 'transport_error');
  assert.equal(input.kind, 'reset');
});

test('abandon() aborts the request', async (t) => {
  let closed = false;
  const { server, url } = await serve((req) => req.socket.on('close', () => (closed = true)));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const inFlight = startRequest(send(url, { timeout_ms: 10000 }), direct);
  await new Promise((r) => setTimeout(r, 50));
  inFlight.abandon();
  const input = await inFlight.result;
  assert.equal(input.type, 'transport_error');
  for (let i = 0; i < 50 && !closed; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(closed);
});

test('fetch errors map to transport kinds by their code', () => {
  const wrap = (cause) => Object.assign(new TypeError('fetch failed'), { cause });
  const err = (code) => Object.assign(new Error(code), { code });
  assert.equal(classifyFetchError(wrap(err('ECONNREFUSED'))), 'connect');
  assert.equal(classifyFetchError(wrap(err('ENOTFOUND'))), 'connect');
  assert.equal(classifyFetchError(wrap(new AggregateError([err('ECONNREFUSED'), err('ECONNREFUSED')]))), 'connect');
  assert.equal(classifyFetchError(wrap(err('ECONNRESET'))), 'reset');
  assert.equal(classifyFetchError(wrap(err('UND_ERR_SOCKET'))), 'reset');
  assert.equal(classifyFetchError(wrap(err('UNABLE_TO_VERIFY_LEAF_SIGNATURE'))), 'tls');
  assert.equal(classifyFetchError(wrap(err('DEPTH_ZERO_SELF_SIGNED_CERT'))), 'tls');
  assert.equal(classifyFetchError(wrap(err('CERT_HAS_EXPIRED'))), 'tls');
  assert.equal(classifyFetchError(wrap(err('ERR_TLS_CERT_ALTNAME_INVALID'))), 'tls');
  assert.equal(classifyFetchError(wrap(err('UND_ERR_HEADERS_TIMEOUT'))), 'timeout');
  assert.equal(classifyFetchError(new DOMException('t', 'TimeoutError')), 'timeout');
  assert.equal(classifyFetchError(wrap(err('EWHATEVER'))), 'other');
  assert.equal(classifyFetchError('a string'), 'other');
});

test("a browser's opaque redirect (status 0, no headers) is fed as a 302", async () => {
  const opaque = () => ({ fetch: async () => ({ type: 'opaqueredirect', status: 0, headers: new Headers(), body: null }) });
  const input = await startRequest(send('http://gatepost.test/x'), opaque).result;
  assert.deepEqual(input, { type: 'response', request_id: 7, status: 302, headers: [], body: '' });
});

test('a response without a stream (an injected fetch) is read through arrayBuffer', async () => {
  const bytes = new TextEncoder().encode('\uFEFF{"ok":true}');
  const plain = () => ({ fetch: async () => ({ status: 200, headers: new Headers(), body: null, arrayBuffer: async () => bytes.buffer }) });
  const input = await startRequest(send('http://gatepost.test/x'), plain).result;
  assert.equal(input.body, '\uFEFF{"ok":true}');
  const small = await startRequest(send('http://gatepost.test/x', { max_body_bytes: 4 }), plain).result;
  assert.equal(small.kind, 'body_too_large');
});

test('an error message that quotes a header value never carries it', async () => {
  const quoting = () => ({
    fetch: async (_url, init) => {
      throw new TypeError(`invalid header value ${init.headers.get('dd-api-key')}`, { cause: Object.assign(new Error('x'), { code: 'EWHATEVER' }) });
    },
  });
  const input = await startRequest(send('http://gatepost.test/x'), quoting).result;
  assert.equal(input.type, 'transport_error');
  assert.doesNotMatch(input.message, /test-api-key-http/);
  assert.match(input.message, /<redacted>/);
});

test('a header value the runtime refuses is other, not a network failure, and is not quoted', async () => {
  let called = false;
  const never = () => ({ fetch: async () => ((called = true), new Response('')) });
  const input = await startRequest(send('http://gatepost.test/x', { headers: [['DD-API-KEY', 'test-api-key-http\nx']] }), never).result;
  assert.equal(input.kind, 'other');
  assert.equal(called, false);
  assert.doesNotMatch(input.message, /test-api-key-http/);
});

test('fetch errors of browsers and timed-out connects map like the other hosts', () => {
  const wrap = (cause) => Object.assign(new TypeError('fetch failed'), { cause });
  const err = (code) => Object.assign(new Error(code), { code });
  assert.equal(classifyFetchError(new TypeError('Failed to fetch')), 'connect');
  assert.equal(classifyFetchError(wrap(err('ETIMEDOUT'))), 'timeout');
  assert.equal(classifyFetchError(wrap(err('UND_ERR_CONNECT_TIMEOUT'))), 'timeout');
  assert.equal(classifyFetchError(wrap(err('UND_ERR_CONNECT'))), 'connect');
  assert.equal(classifyFetchError(wrap(new Error('unable to get local issuer certificate'))), 'tls');
});

test('proxies: HTTPS_PROXY for https, HTTP_PROXY for http, NO_PROXY and loopback go direct', () => {
  const env = { HTTPS_PROXY: 'http://proxy:3128', http_proxy: 'http://plain:8080', NO_PROXY: 'internal.example, .corp.example:443,10.0.0.1' };
  assert.equal(proxyFor('https://api.datadoghq.com/x', env), 'http://proxy:3128');
  assert.equal(proxyFor('http://api.example/x', env), 'http://plain:8080');
  assert.equal(proxyFor('https://internal.example/x', env), undefined);
  assert.equal(proxyFor('https://api.internal.example/x', env), undefined);
  assert.equal(proxyFor('https://a.corp.example/x', env), undefined);
  assert.equal(proxyFor('https://a.corp.example:8443/x', env), 'http://proxy:3128');
  assert.equal(proxyFor('https://notinternal.example/x', env), 'http://proxy:3128');
  assert.equal(proxyFor('http://10.0.0.1/x', env), undefined);
  assert.equal(proxyFor('http://127.0.0.1:8126/x', env), undefined);
  assert.equal(proxyFor('http://localhost:8126/x', env), undefined);
  assert.equal(proxyFor('http://[::1]:8126/x', env), undefined);
  assert.equal(proxyFor('https://api.datadoghq.com/x', { ...env, no_proxy: '*', NO_PROXY: undefined }), undefined);
  assert.equal(proxyFor('https://api.datadoghq.com/x', {}), undefined);
});
