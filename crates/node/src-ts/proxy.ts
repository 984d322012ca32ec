// HTTPS_PROXY / HTTP_PROXY / NO_PROXY for Node, whose global fetch ignores them: the decision is
// core's (`proxyFor`, the same rules in every host). When a proxy applies, the request goes
// through undici's fetch with a ProxyAgent (loaded only then, so a plain run pays nothing for it).
import type { RouteFor } from './driver';
import { proxyFor } from './environment';
import type { FetchFunction } from './types';

type Env = Record<string, string | undefined>;

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
