// The environment as core reads it (crates/core/src/environment.rs): keys, site and the proxy of a
// URL, by the rules every gatepost host shares. Nothing here decides anything; it converts names.
import type { EnvDefaults } from './driver';
import { native } from './errors';
import { binding } from './native';

/** An environment: `process.env`, or any `{ NAME: value }` object. */
export type Environment = Record<string, string | undefined>;

/** A plain copy of the string entries (process.env is an exotic object). */
function plain(env: Environment): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (typeof value === 'string') out[name] = value;
  return out;
}

/**
 * The API key, application key and site an environment provides, by core's rules (the same in the
 * CLI, Python and wasm): `DATADOG_API_KEY` then `DD_API_KEY`; `DATADOG_APP_KEY`, `DD_APP_KEY`, then
 * `DD_APPLICATION_KEY`; `DATADOG_SITE` then `DD_SITE`. Values are trimmed (a key read from a secret
 * file ending in a newline works); empty and white-space-only values count as unset.
 */
export function envDefaults(env: Environment = process.env): EnvDefaults {
  const found = native(() => binding.envDefaults(plain(env)), 'invalid_options');
  const out: EnvDefaults = {};
  if (found.api_key !== undefined) out.apiKey = found.api_key;
  if (found.app_key !== undefined) out.appKey = found.app_key;
  if (found.site !== undefined) out.site = found.site;
  return out;
}

/**
 * The proxy URL for a request to `url`, or undefined to go direct, by core's rules (curl's):
 * `https:` uses HTTPS_PROXY (or https_proxy), `http:` HTTP_PROXY (or http_proxy), either falling
 * back to ALL_PROXY; NO_PROXY (or no_proxy) lists hosts that go direct: `*` alone, a name (which
 * also covers its subdomains; a leading `.` or `*.` is allowed), an IP or CIDR range, each with an
 * optional `:port` that must match. Loopback hosts always go direct.
 */
export function proxyFor(url: string, env: Environment): string | undefined {
  return binding.proxyFor(url, plain(env)) ?? undefined;
}
