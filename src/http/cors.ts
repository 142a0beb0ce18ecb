// CORS for browser clients of the customer API (/v1/*): origins listed in CORS_ORIGINS (exact `scheme://host[:port]`
// entries, comma-separated; `*` for any). Keys travel in the Authorization header, never in cookies, so no response
// ever carries Access-Control-Allow-Credentials — and `*` is never combined with credentials. Preflights are answered
// before auth; a listed origin gets its own origin back (with Vary: Origin), an unlisted one gets no CORS headers.
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env';

const METHODS = 'GET, HEAD, POST, DELETE, OPTIONS';
/** Response headers a browser script may read. */
const EXPOSE = 'x-request-id, x-phi-cost-micro, x-phi-attempts, x-phi-route, x-phi-tier, x-phi-region, openai-poll-after-ms, retry-after, idempotent-replayed, x-should-retry, content-range, etag';
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;


export const cors: MiddlewareHandler<AppEnv> = async (c, next) => {
  const origin = c.req.header('origin');
  const { corsOrigins } = c.get('cfg');
  const allowed = origin && (corsOrigins.any || corsOrigins.list.has(origin)) ? (corsOrigins.any ? '*' : origin) : null;
  if (c.req.method === 'OPTIONS' && origin && c.req.header('access-control-request-method')) {
    const h = new Headers({ vary: 'Origin' });
    if (allowed) {
      const asked = (c.req.header('access-control-request-headers') ?? '').split(',').map((s) => s.trim()).filter((s) => TOKEN.test(s));
      h.set('access-control-allow-origin', allowed);
      h.set('access-control-allow-methods', METHODS);
      if (asked.length) h.set('access-control-allow-headers', asked.join(', '));
      h.set('access-control-max-age', '600');
    }
    return new Response(null, { status: 204, headers: h });
  }
  await next();
  if (allowed) {
    c.res.headers.set('access-control-allow-origin', allowed);
    c.res.headers.set('access-control-expose-headers', EXPOSE);
  }
  if (origin) c.res.headers.append('vary', 'Origin');
};
