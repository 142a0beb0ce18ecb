import { Hono } from 'hono/tiny';
import type { Context } from 'hono';
import type { AppEnv } from './app-env';
import { ApiError, PhiBlocked, toApiError } from './http/errors';
import { audit } from './audit/trail';
import { getConfig, residency } from './config';
import { execOf } from './pipeline/context';
import { methodNotAllowed } from './http/methods';
import { cors } from './http/cors';
import { configured, context, customer, discardBody, generation, limitBody, phiTier } from './http/middleware';
import { account } from './routes/account';
import { admin } from './routes/admin';
import { catalog } from './routes/catalog';
import { hooks } from './routes/hooks';
import { openapiText } from './openapi/serve';
import { DOCS_HTML, DOCS_JS } from './openapi/docs';
import { images } from './routes/images';
import { media } from './routes/media';
import { videos } from './routes/videos';

const MiB = 1024 * 1024;

export const app = new Hono<AppEnv>();

/** The one way an error becomes a response: the envelope, and its code noted for the request's log line. */
function fail(err: unknown, c: Context<AppEnv>): Response {
  const e = toApiError(err);
  c.set('errorCode', e.code);
  if (e instanceof PhiBlocked) auditPhi(c, e);
  return e.toResponse();
}

/** A PHI refusal leaves one audit event: the field and the identifier class, never the value. */
function auditPhi(c: Context<AppEnv>, e: PhiBlocked): void {
  const key = c.get('key');
  if (!key) return;
  void audit({ cfg: c.get('cfg'), ledger: c.get('ledger'), exec: execOf(c) }, key.account, {
    type: 'phi.blocked',
    request_id: c.get('requestId'),
    key_id: key.keyId,
    detail: { field: e.field, class: e.phiClass, route: c.req.path },
  });
}

app.use(context);
app.get('/healthz', (c) => {
  let where: ReturnType<typeof residency> | null = null;
  try {
    where = residency(getConfig(c.env));
  } catch {
    /* liveness answers even when the configuration does not parse */
  }
  return c.json({ status: 'ok', residency: where });
});
// The API document and its page: static, no key, no store.
app.get('/openapi.json', (c) => c.body(openapiText(), 200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' }));
const DOCS_CSP = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";
app.get('/docs', (c) => c.html(DOCS_HTML, 200, { 'content-security-policy': DOCS_CSP, 'x-content-type-options': 'nosniff' }));
app.get('/docs.js', (c) => c.body(DOCS_JS, 200, { 'content-type': 'text/javascript; charset=utf-8', 'x-content-type-options': 'nosniff', 'cache-control': 'public, max-age=300' }));
app.use(configured);
// Before everything else on /v1: a preflight carries no key.
app.use('/v1/*', cors);

/** OpenAI API families this gateway does not serve: a clear answer instead of a bare 404. */
const UNSUPPORTED =
  /^\/v1\/(chat|completions|responses|embeddings|audio|moderations|files|fine_tuning|fine-tunes|batches|assistants|threads|vector_stores|realtime|uploads|evals|containers|conversations|organization)(\/|$)|^\/v1\/images\/variations\/?$|^\/v1\/videos\/(edits|extensions|characters)(\/|$)/;
const SERVED = 'POST /v1/images/generations, POST /v1/images/edits, POST /v1/videos, GET /v1/videos, GET /v1/models';
const unsupported = (c: Context<AppEnv>) =>
  new ApiError(404, 'unsupported_endpoint', `${c.req.method} ${c.req.path} is not served here: this gateway serves image and video generation (${SERVED})`);

// Answered before auth and body limits: the same clear 404 whatever the key or method.
app.use('/v1/*', async (c, next) => {
  if (!UNSUPPORTED.test(c.req.path)) return next();
  await discardBody(c.req.raw);
  return fail(unsupported(c), c);
});

// Generation routes: x-phi-tier on every response (413 included), then the body cap, then auth + PHI gate.
// Multipart carries input files (an image to edit: 6 MiB; a video's image + audio: 6 MiB each); a JSON body (data:
// URIs included) is held whole while it is parsed, so it gets less.
const isMultipart = (c: Context<AppEnv>) => (c.req.header('content-type') ?? '').toLowerCase().startsWith('multipart/form-data');
app.use('/v1/images/*', phiTier, limitBody((c) => (isMultipart(c) ? 7 * MiB : MiB)), generation);
// `/v1/videos/*` also matches `/v1/videos` itself.
app.use('/v1/videos/*', phiTier, limitBody((c) => (isMultipart(c) ? 13 * MiB : 2 * MiB)), generation);
app.use('/v1/account', customer);
app.use('/v1/usage', customer);
app.use('/admin/*', limitBody(64 * 1024));
// fal's webhook carries the job's output JSON (URLs, sizes): small.
app.use('/v1/hooks/*', limitBody(256 * 1024));

app.route('/v1', catalog);
app.route('/v1', account);
app.route('/v1', images);
app.route('/v1', media);
app.route('/v1', videos);
app.route('/v1', hooks);
app.route('/admin', admin);

app.notFound((c) => {
  return fail(methodNotAllowed(app.routes, c.req.method, c.req.path) ?? new ApiError(404, 'not_found', 'Unknown route'), c);
});
app.onError(fail);
