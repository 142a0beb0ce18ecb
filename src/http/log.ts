// The gateway's only log output: one JSON line per request with request id, route pattern, status, duration,
// money moved and error code. Never a URL (signed URLs and job ids live there), a header, a body or a key.
import type { Context } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { AppEnv } from '../app-env';

export interface RequestLine {
  request_id: string;
  route: string;
  status: number;
  ms: number;
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
  const line: RequestLine = {
    request_id: c.get('requestId'),
    route: route(c),
    status: c.res.status,
    ms: Math.round(ms * 10) / 10,
    cost_micro: Number.isSafeInteger(cost) ? cost : 0,
    error: c.get('errorCode') ?? null,
  };
  console.log(JSON.stringify(line));
}
