// Which addresses the gateway may fetch. Two rule sets:
// - customer URLs (image_url, audio_url, …): public https hosts only — no IP literals in any notation, no
//   internal names, never the worker's or the gateway's own host. `ALLOW_INSECURE_URLS=true` (local development)
//   also admits http and loopback.
// - provider outputs: only hosts on an allow-list (`FAL_MEDIA_HOSTS`), https unless an entry names its scheme.
// Hostnames are checked after WHATWG URL parsing, which already folds every numeric IPv4 spelling
// (2130706433, 0x7f.1, 0177.0.0.1, 127.1) into dotted decimal and lower-cases names.

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const INTERNAL_SUFFIXES = ['.localhost', '.local', '.internal', '.lan', '.home.arpa', '.intranet', '.corp'];
const LOOPBACK = (host: string) => host === 'localhost' || host.endsWith('.localhost') || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);

export interface UrlRules {
  /** `ALLOW_INSECURE_URLS`: http and loopback are allowed too (local development only). */
  insecure: boolean;
  /** Hosts (`host[:port]`) a customer may never point the gateway at: the worker's and the gateway's own. */
  ownHosts: readonly string[];
}

/** Parses a customer URL and returns it when the rules allow fetching it, else null. */
export function customerUrl(raw: string, rules: UrlRules): URL | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.username || url.password) return null;
  const host = url.hostname.replace(/\.$/, '');
  const loopback = LOOPBACK(host);
  if (rules.insecure) {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
    if (rules.ownHosts.includes(url.host)) return null;
    if (loopback) return url;
  } else {
    if (url.protocol !== 'https:' || (url.port && url.port !== '443')) return null;
    if (rules.ownHosts.some((h) => hostOf(h) === host)) return null;
  }
  if (loopback || IPV4.test(host) || host.startsWith('[')) return null;
  // A public name has a dot and an alphabetic top-level label (no single-label intranet names).
  if (!/\.[a-z][a-z0-9-]*[a-z0-9]$/.test(host) && !/\.xn--[a-z0-9-]+$/.test(host)) return null;
  if (INTERNAL_SUFFIXES.some((s) => host.endsWith(s))) return null;
  return url;
}

const hostOf = (hostPort: string) => hostPort.replace(/:\d+$/, '').replace(/\.$/, '');

/** One allow-list entry: `host`, `*.suffix` (https, default port) or `scheme://host[:port]` (exactly that). */
interface HostRule {
  scheme: string | null;
  host: string;
  wildcard: boolean;
}

/** Parses `FAL_MEDIA_HOSTS` (comma-separated); throws on an entry it cannot read. */
export function parseHostList(list: string): HostRule[] {
  return list
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter(Boolean)
    .map((entry) => {
      const m = entry.match(/^(?:(https?):\/\/)?(\*\.)?([a-z0-9.-]+(?::\d{1,5})?)\/?$/);
      if (!m) throw new Error(entry);
      return { scheme: m[1] ?? null, wildcard: Boolean(m[2]), host: m[3]! };
    });
}

/** True when a provider output URL is on the allow-list. */
export function allowedOutput(raw: string, rules: readonly HostRule[]): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  return rules.some((r) => {
    if (r.scheme) return url.protocol === `${r.scheme}:` && url.host === r.host;
    if (url.protocol !== 'https:' || url.port) return false;
    return r.wildcard ? url.hostname.endsWith(`.${r.host}`) : url.hostname === r.host;
  });
}

/** CORS_ORIGINS: exact `scheme://host[:port]` origins, comma-separated, or `*` (throws on an invalid entry). */
export function parseOrigins(raw: string | undefined): { any: boolean; list: Set<string> } {
  const entries = (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const list = new Set<string>();
  for (const e of entries) {
    if (e === '*') continue;
    const u = new URL(e); // throws on an invalid entry: a config error
    if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.pathname !== '/' || u.search || u.hash || u.username) throw new TypeError(e);
    list.add(u.origin);
  }
  return { any: entries.includes('*'), list };
}
