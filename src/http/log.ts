// The gateway's only log output: one JSON line per request with request id, route pattern, status, duration, the
// canonical model and provider that served it, the time spent upstream, money moved and error code. Never a URL
// (signed URLs and job ids live there), a header, a body, a key or an account. With `[observability]` in
// wrangler.toml these lines are Workers Logs' (and its OpenTelemetry export's) records. The same facts go to Workers
// Analytics Engine when METRICS is bound: one data point per request, not awaited (writeDataPoint queues it).
import type { Context } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { AppEnv } from '../app-env';

export interface RequestLine {
  request_id: string;
  route: string;
  status: number;
  ms: number;
  /** the canonical model (krea-2, wan, avatar), when the request named or ran one */
  model: string | null;
  /** fal or worker, when a provider was involved */
  provider: string | null;
  /** ms spent waiting on the provider (null: no provider call) */
  upstream_ms: number | null;
  cost_micro: number;
  error: string | null;
}

/** The registered pattern that answered (`GET /v1/videos/:id`), never the concrete path. */
export function route(c: Context<AppEnv>): string {
  const handler = matchedRoutes(c).findLast((r) => r.method !== 'ALL');
  return `${c.req.method} ${handler?.path ?? '(unmatched)'}`;
}

export function logRequest(c: Context<AppEnv>, ms: number): void {
  const cost = Number(c.res.headers.get('x-phi-cost-micro'));
  const trace = c.get('trace');
  const line: RequestLine = {
    request_id: c.get('requestId'),
    route: route(c),
    status: c.res.status,
    ms: Math.round(ms * 10) / 10,
    model: trace?.model ?? null,
    provider: trace?.provider ?? null,
    upstream_ms: trace?.upstreamMs ?? null,
    cost_micro: Number.isSafeInteger(cost) ? cost : 0,
    error: c.get('errorCode') ?? null,
  };
  console.log(JSON.stringify(line));
  metric(c.env?.METRICS, line);
}

/**
 * The request as an Analytics Engine data point. Columns (the README's SQL queries use them): index1 = route;
 * blob1 route, blob2 model, blob3 provider, blob4 error code, blob5 status class (2xx…5xx); double1 status,
 * double2 ms, double3 upstream ms, double4 cost micro-USD. Unbound: nothing is written. Never throws.
 */
export function metric(dataset: AnalyticsEngineDataset | undefined, l: RequestLine): void {
  if (!dataset) return;
  try {
    dataset.writeDataPoint({
      indexes: [l.route],
      blobs: [l.route, l.model ?? '', l.provider ?? '', l.error ?? '', `${Math.floor(l.status / 100)}xx`],
      doubles: [l.status, l.ms, l.upstream_ms ?? 0, l.cost_micro],
    });
  } catch {
    /* metrics never fail a request */
  }
}
