// HTTPS_PROXY / HTTP_PROXY / NO_PROXY for Node, whose global fetch ignores them. When a proxy
// applies, the request goes through undici's fetch with a ProxyAgent (loaded only then, so a plain
// run pays nothing for it).
import type { RouteFor } from './driver';
import type { FetchFunction } from './types';

type Env = Record<string, string | undefined>;

function pick(env: Env, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') return value.trim();
  }
  return undefined;
}

/**
 * The proxy URL for `url`, or undefined. `https:` uses HTTPS_PROXY (or https_proxy), `http:` uses
 * HTTP_PROXY (or http_proxy). NO_PROXY (or no_proxy) lists hosts that go direct: `*`, a host name
 * (which also covers its subdomains; a leading `.` is allowed), an IP, each with an optional
 * `:port`. Loopback hosts always go direct, as in Go and most CLIs: a local emulator is never
 * reached through a proxy.
 */
export function proxyFor(url: string, env: Env): string | undefined {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return undefined;
  }
  const proxy =
    target.protocol === 'https:'
      ? pick(env, 'HTTPS_PROXY', 'https_proxy')
      : target.protocol === 'http:'
        ? pick(env, 'HTTP_PROXY', 'http_proxy')
        : undefined;
  if (proxy === undefined) return undefined;
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\./.test(host)) return undefined;
  const port = target.port || (target.protocol === 'https:' ? '443' : '80');
  const noProxy = pick(env, 'NO_PROXY', 'no_proxy') ?? '';
  for (const raw of noProxy.split(/[\s,]+/)) {
    const entry = raw.toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return undefined;
    const m = entry.match(/^(.*?)(?::(\d+))?$/);
    const name = (m?.[1] ?? entry).replace(/^\*?\./, '').replace(/^\[|\]$/g, '');
    const entryPort = m?.[2];
    if (entryPort !== undefined && entryPort !== port) continue;
    if (host === name || host.endsWith(`.${name}`)) return undefined;
  }
  return proxy;
}

interface Undici {
  fetch: FetchFunction;
  ProxyAgent: new (uri: string) => object;
}

const agents = new Map<string, object>();

/** Route each URL through the global fetch, or undici's fetch through a ProxyAgent when the
 * environment names a proxy for that URL. (A `fetch` the user gives is used as it is.) */
export function nodeRoute(env: Env): RouteFor {
  return (url) => {
    const proxy = proxyFor(url, env);
    if (proxy === undefined) return { fetch: globalThis.fetch as FetchFunction };
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const undici = require('undici') as Undici;
    let agent = agents.get(proxy);
    if (agent === undefined) {
      agent = new undici.ProxyAgent(proxy);
      agents.set(proxy, agent);
    }
    return { fetch: undici.fetch, init: { dispatcher: agent } };
  };
}
