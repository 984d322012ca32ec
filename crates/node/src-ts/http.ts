// Performs one `send_request` action with `fetch` and turns what happened into the engine's input.
// Shared by the Node and the wasm package: it uses only what every fetch runtime has.
import type { Action, Input } from './types';
import type { FetchFunction } from './types';

type SendRequest = Extract<Action, { type: 'send_request' }>;
type TransportKind = Extract<Input, { type: 'transport_error' }>['kind'];

/** A request on its way; `abandon()` aborts it when the engine no longer waits for it. */
export interface InFlight {
  readonly requestId: number;
  readonly result: Promise<Input>;
  abandon(): void;
}

/** Extra `fetch` init for one URL (Node: undici's `dispatcher` when a proxy applies). */
export type RouteFor = (url: string) => { fetch: FetchFunction; init?: Record<string, unknown> };

/**
 * Start the request the engine asked for. Never rejects: every failure becomes a
 * `transport_error` input. Redirects are not followed (a 3xx goes to the engine as it is, so keys
 * never travel to another host); the request is aborted after `timeout_ms`; a body above
 * `max_body_bytes` is `body_too_large`; the body is decoded as UTF-8, lossily, keeping a BOM as
 * the Rust host does.
 */
export function startRequest(action: SendRequest, route: RouteFor): InFlight {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, action.timeout_ms);
  const id = action.request_id;
  const result = (async (): Promise<Input> => {
    try {
      const { fetch, init } = route(action.url);
      const response = await fetch(action.url, {
        ...init,
        method: action.method,
        headers: action.headers,
        body: action.body,
        redirect: 'manual',
        signal: controller.signal,
      });
      const headers: [string, string][] = [];
      response.headers.forEach((value, name) => headers.push([name, value]));
      const body = await readCapped(response, action.max_body_bytes);
      if (body === undefined) {
        controller.abort();
        return transportError(id, 'body_too_large', `the response body is larger than ${action.max_body_bytes} bytes`);
      }
      // A browser reports a redirect it did not follow as an opaque response without its status;
      // any 3xx means the same to the engine.
      const status = response.type === 'opaqueredirect' ? 302 : response.status;
      return { type: 'response', request_id: id, status, headers, body };
    } catch (error) {
      if (timedOut) return transportError(id, 'timeout', `no response within ${action.timeout_ms} ms`);
      return transportError(id, classify(error), describe(error));
    } finally {
      clearTimeout(timer);
    }
  })();
  return {
    requestId: id,
    result,
    abandon: () => {
      clearTimeout(timer);
      controller.abort();
    },
  };
}

function transportError(request_id: number, kind: TransportKind, message: string): Input {
  return { type: 'transport_error', request_id, kind, message };
}

/** The body as text, or `undefined` when it is larger than `max` bytes (reading stops there). */
async function readCapped(response: Response, max: number): Promise<string | undefined> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await response.body?.cancel().catch(() => undefined);
    return undefined;
  }
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return decoder.decode(bytes);
}

const TLS_CODES = /^(CERT_|ERR_TLS_|ERR_SSL_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH)/;
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** The error codes along an error's cause chain (fetch wraps the socket error in `cause`; a
 * connection tried on several addresses wraps them in an AggregateError). */
function codes(error: unknown, depth = 0): string[] {
  if (depth > 6 || typeof error !== 'object' || error === null) return [];
  const e = error as { code?: unknown; cause?: unknown; errors?: unknown; name?: unknown };
  const own = typeof e.code === 'string' ? [e.code] : [];
  if (e.name === 'TimeoutError') own.push('TimeoutError');
  const nested = Array.isArray(e.errors) ? e.errors.flatMap((x) => codes(x, depth + 1)) : [];
  return [...own, ...codes(e.cause, depth + 1), ...nested];
}

/** Which transport failure a fetch error is. The engine decides what each kind means. */
export function classify(error: unknown): TransportKind {
  const all = codes(error);
  if (all.some((c) => TLS_CODES.test(c))) return 'tls';
  if (all.some((c) => CONNECT_CODES.has(c))) return 'connect';
  if (all.some((c) => RESET_CODES.has(c))) return 'reset';
  if (all.some((c) => TIMEOUT_CODES.has(c) || c === 'TimeoutError')) return 'timeout';
  return 'other';
}

/** A one-line description of a fetch error (`fetch failed: connect ECONNREFUSED 127.0.0.1:9`).
 * Requests carry keys only in headers, which no error message quotes. */
function describe(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let i = 0; i < 4 && current instanceof Error; i++) {
    if (current.message && !parts.includes(current.message)) parts.push(current.message);
    current = (current as { cause?: unknown }).cause;
  }
  return parts.length > 0 ? parts.join(': ') : String(error);
}
