// The OpenAPI 3.1 document served at /openapi.json: request bodies and query parameters are generated (zod 4's JSON
// Schema output) from the very schemas the routes validate with; responses, headers and error codes are described
// here once. Generated at build time (`npm run openapi` → src/openapi/openapi.json, which the worker serves) so the
// JSON Schema generator stays out of the worker bundle (~10 KiB gzip); a test rebuilds it from the schemas and
// fails when the committed file differs, and checks it against the app's registered routes both ways.
import * as z from 'zod/mini';
import { ERROR_CODES } from '../http/errors';
import { MODELS } from '../catalog/models';
import { editBody as editFields, imageBody, MAX_EDIT_IMAGES } from '../routes/images';
import { listQuery, remixBody, videoBody } from '../routes/videos';
import { adjustBody, creditBody, eraseQuery, issueBody, pageQuery, patchKeyBody, phiScanBody, residencyBody, webhookBody } from '../routes/admin';
import { auditQuery, rangeQuery } from '../routes/usage';
import { statsQuery } from '../routes/stats';

/**
 * Routes the app serves that are not API operations: the docs page's own script. They are left out of the document
 * (the test that compares registered and documented routes knows them).
 */
export const UNDOCUMENTED = ['GET /docs.js'];

type Json = Record<string, unknown>;

const schemaOf = (s: z.ZodMiniType): Json => {
  const out = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Json;
  delete out.$schema;
  return out;
};

/** Query parameters from an object schema. */
function queryParams(s: z.ZodMiniType): Json[] {
  const js = schemaOf(s) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, schema]) => ({ name, in: 'query', required: js.required?.includes(name) ?? false, schema }));
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const header = (description: string, schema: Json = { type: 'string' }) => ({ description, schema });
const REQUEST_ID = { 'x-request-id': { $ref: '#/components/headers/x-request-id' } };
const TIER = { 'x-phi-tier': { $ref: '#/components/headers/x-phi-tier' } };
const COST = { 'x-phi-cost-micro': { $ref: '#/components/headers/x-phi-cost-micro' } };
const ATTEMPTS = { 'x-phi-attempts': { $ref: '#/components/headers/x-phi-attempts' } };

/** Which codes each error status carries. */
const STATUS_CODES: Record<number, string[]> = {
  400: ['invalid_request'],
  401: ['invalid_api_key', 'invalid_signature'],
  402: ['insufficient_quota', 'budget_exceeded'],
  403: ['phi_blocked', 'invalid_signature', 'link_expired'],
  404: ['not_found', 'model_not_found', 'unsupported_endpoint'],
  405: ['method_not_allowed'],
  409: ['idempotency_conflict', 'video_not_ready', 'account_not_empty'],
  413: ['payload_too_large'],
  416: ['range_not_satisfiable'],
  429: ['rate_limit_exceeded'],
  500: ['config_invalid', 'internal_error'],
  502: ['upstream_error'],
  503: ['provider_unavailable', 'store_unavailable'],
  504: ['upstream_timeout'],
};

function errors(...statuses: number[]): Json {
  const out: Json = {};
  for (const s of [...statuses, 500]) out[String(s)] = { $ref: `#/components/responses/E${s}` };
  return out;
}

const ok = (description: string, schema: Json | null, headers: Json = {}, type = 'application/json'): Json => ({
  description,
  headers: { ...REQUEST_ID, ...headers },
  ...(schema && { content: { [type]: { schema } } }),
});

const jsonBody = (s: z.ZodMiniType, required = true) => ({ required, content: { 'application/json': { schema: schemaOf(s) } } });
const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, schema: { type: 'string' }, description });
const CUSTOMER = [{ apiKey: [] }];
const ADMIN = [{ adminToken: [] }];
const PHI = { name: 'X-PHI', in: 'header', required: false, description: 'Anything but an explicit false (false/0/no, or absent) is refused with 403 phi_blocked', schema: { type: 'string' } };
const IDEM = { name: 'Idempotency-Key', in: 'header', required: false, description: '1-255 visible ASCII; a retry with the same body replays the first answer without a second charge', schema: { type: 'string', maxLength: 255 } };

export function buildDocument(): Json {
  const gen = [400, 401, 402, 403, 404, 409, 413, 429, 502, 503, 504];
  const imageOk = ok('The images (URLs signed for MEDIA_URL_TTL_SECONDS, or base64)', ref('ImagesResponse'), { ...TIER, ...COST, ...ATTEMPTS, 'x-phi-route': { $ref: '#/components/headers/x-phi-route' }, 'idempotent-replayed': header('true on an Idempotency-Key replay') });
  // stream=true: the same images as server-sent events, one image_generation.completed / image_edit.completed each.
  const imageResponses = (event: string) => ({
    '200': { ...imageOk, content: { ...(imageOk.content as Json), 'text/event-stream': { schema: { type: 'string', description: `stream=true: one \`${event}\` event per image ({type, b64_json, created_at, size, quality, background, output_format})` } } } },
    ...errors(...gen),
  });
  const videoCreated = { '200': ok('The queued Video object', ref('Video'), { ...TIER, ...COST, 'openai-poll-after-ms': header('Poll again after this many ms') }), ...errors(...gen) };
  const multipartVideo = {
    type: 'object',
    properties: { ...(schemaOf(videoBody) as { properties: Json }).properties, input_reference: { type: 'string', format: 'binary' }, audio: { type: 'string', format: 'binary' } },
    required: ['prompt'],
  };
  const image = { type: 'string', format: 'binary', description: 'PNG, JPEG or WebP, ≤ 6 MiB, typed by its bytes' };
  const editBody = {
    type: 'object',
    properties: {
      ...(schemaOf(editFields) as { properties: Json }).properties,
      image: { ...image, description: `${image.description}; several (up to ${MAX_EDIT_IMAGES}) as repeated image[] parts` },
      'image[]': { type: 'array', maxItems: MAX_EDIT_IMAGES, items: image },
      mask: { not: {}, description: 'Not supported (400): the edit models re-render the whole image' },
    },
    required: ['prompt'],
  };
  const paths: Json = {
    '/healthz': { get: { summary: 'Liveness', security: [], responses: { '200': ok('ok', { type: 'object', properties: { status: { const: 'ok' } } }) } } },
    '/openapi.json': { get: { summary: 'This document', security: [], responses: { '200': ok('OpenAPI 3.1', { type: 'object' }) } } },
    '/docs': { get: { summary: 'This document, rendered (no external resources)', security: [], responses: { '200': ok('HTML', { type: 'string' }, {}, 'text/html') } } },
    '/v1/models': { get: { summary: 'List models', security: [], responses: { '200': ok('Models', ref('ModelList')), ...errors() } } },
    '/v1/models/{id}': { get: { summary: 'A model by id or alias (gpt-image-1, sora-2, krea, bernini, …)', security: [], parameters: [pathParam('id', 'Model id or alias')], responses: { '200': ok('The model', ref('Model')), ...errors(404) } } },
    '/v1/pricing': { get: { summary: 'Rate card in micro-USD', security: [], responses: { '200': ok('Prices', { type: 'object' }), ...errors() } } },
    '/v1/account': { get: { summary: "The key's account: balance, held, available, rate limit, and the key's budget (spent, held, resets_at)", security: CUSTOMER, responses: { '200': ok('Account', ref('Account')), ...errors(401, 503) } } },
    '/v1/usage': { get: { summary: "The key's account usage over a range", security: CUSTOMER, parameters: queryParams(rangeQuery), responses: { '200': ok('Usage', ref('UsageList')), ...errors(400, 401, 404, 503) } } },
    '/v1/images/generations': { post: { summary: 'Generate images (synchronous)', security: CUSTOMER, parameters: [PHI, IDEM], requestBody: jsonBody(imageBody), responses: imageResponses('image_generation.completed') } },
    '/v1/images/edits': { post: { summary: 'Edit one image (image-to-image) or compose several (image[])', security: CUSTOMER, parameters: [PHI, IDEM], requestBody: { required: true, content: { 'multipart/form-data': { schema: editBody } } }, responses: imageResponses('image_edit.completed') } },
    '/v1/videos': {
      post: { summary: 'Enqueue a video (JSON or multipart)', security: CUSTOMER, parameters: [PHI, IDEM], requestBody: { required: true, content: { 'application/json': { schema: schemaOf(videoBody) }, 'multipart/form-data': { schema: multipartVideo } } }, responses: videoCreated },
      get: { summary: "The account's videos, newest first", security: CUSTOMER, parameters: [PHI, ...queryParams(listQuery)], responses: { '200': ok('A page', ref('VideoList'), TIER), ...errors(400, 401, 403, 429, 503) } },
    },
    '/v1/videos/generations': { post: { summary: 'Enqueue a video (alias of POST /v1/videos)', security: CUSTOMER, parameters: [PHI, IDEM], requestBody: { required: true, content: { 'application/json': { schema: schemaOf(videoBody) }, 'multipart/form-data': { schema: multipartVideo } } }, responses: videoCreated } },
    '/v1/videos/{id}': {
      get: { summary: 'Poll a video (the first poll that sees completion bills it, once)', security: CUSTOMER, parameters: [pathParam('id', 'Video id'), PHI], responses: { '200': ok('The Video object', ref('Video'), { ...TIER, ...COST, 'openai-poll-after-ms': header('While queued or in progress') }), ...errors(401, 402, 403, 404, 429, 502, 503, 504) } },
      delete: { summary: 'Delete a video (a running one is stopped unpaid)', security: CUSTOMER, parameters: [pathParam('id', 'Video id'), PHI], responses: { '200': ok('Deleted', ref('VideoDeleted'), TIER), ...errors(401, 403, 404, 429, 503) } },
    },
    '/v1/videos/{id}/remix': { post: { summary: "A new video with the original's model, seconds and size (a new charge)", security: CUSTOMER, parameters: [pathParam('id', 'Video id'), PHI, IDEM], requestBody: jsonBody(remixBody), responses: videoCreated } },
    '/v1/videos/{id}/content': {
      get: {
        summary: 'Download the finished MP4 (Range supported)',
        security: CUSTOMER,
        parameters: [pathParam('id', 'Video id'), PHI, { name: 'variant', in: 'query', required: false, schema: { const: 'video' } }],
        responses: { '200': ok('The MP4', { type: 'string', format: 'binary' }, { ...TIER, ...COST }, 'video/mp4'), '206': ok('A range of it', { type: 'string', format: 'binary' }, {}, 'video/mp4'), ...errors(400, 401, 402, 403, 404, 409, 416, 429, 502, 503, 504) },
      },
    },
    '/v1/media/{key}': {
      get: {
        summary: 'A re-hosted output or a worker file, by signed URL (no key)',
        security: [],
        parameters: [pathParam('key', 'Object key'), { name: 'exp', in: 'query', required: true, schema: { type: 'string' } }, { name: 'sig', in: 'query', required: true, schema: { type: 'string' } }],
        responses: { '200': ok('The file (nosniff, an image/video type)', { type: 'string', format: 'binary' }, { etag: header('Strong ETag') }, 'application/octet-stream'), '206': ok('A range', { type: 'string', format: 'binary' }, {}, 'application/octet-stream'), '304': { description: 'Not modified' }, ...errors(403, 404, 416, 502) },
      },
    },
    '/v1/hooks/fal/{token}': { post: { summary: "fal's completion webhook (ED25519-signed; not for customers)", security: [], parameters: [pathParam('token', 'Sealed job token')], requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } }, responses: { '200': ok('Received', { type: 'object' }), ...errors(401, 404, 413, 502, 503) } } },
    '/admin/keys': { post: { summary: 'Issue a key (shown once)', security: ADMIN, requestBody: jsonBody(issueBody), responses: { '201': ok('The new key', ref('IssuedKey')), ...errors(400, 401, 413, 503) } } },
    '/admin/keys/{keyId}': {
      delete: { summary: 'Revoke a key (idempotent)', security: ADMIN, parameters: [pathParam('keyId', 'key_…')], responses: { '200': ok('Revoked', { type: 'object', properties: { key_id: { type: 'string' }, revoked: { const: true } } }), ...errors(401, 404, 503) } },
      patch: {
        summary: "Change a live key's label, expiry, rpm or budget (budget_micro with budget_period; null removes); effective within 5 s",
        security: ADMIN,
        parameters: [pathParam('keyId', 'key_…')],
        requestBody: jsonBody(patchKeyBody),
        responses: { '200': ok('The key as listed', ref('KeyInfo')), ...errors(400, 401, 404, 413, 503) },
      },
    },
    '/admin/stats': {
      get: {
        summary: 'Requests, successes, failures, refusals by code, spend and p50/p95 upstream latency, grouped by day, model, account or key (from the usage records, refusal counts, outcome samples and PHI refusals)',
        security: ADMIN,
        parameters: queryParams(statsQuery),
        responses: { '200': ok('The groups and their total', ref('Stats')), ...errors(400, 401, 503) },
      },
    },
    '/admin/accounts': { get: { summary: 'Accounts in name order, with their money', security: ADMIN, parameters: queryParams(pageQuery), responses: { '200': ok('A page', { type: 'object' }), ...errors(400, 401, 503) } } },
    '/admin/accounts/{account}': {
      get: { summary: 'One account: money and recent usage', security: ADMIN, parameters: [pathParam('account', 'Account name')], responses: { '200': ok('The account', { type: 'object' }), ...errors(400, 401, 404, 503) } },
      delete: {
        summary: 'Erase an account: keys, money, usage, jobs, idempotency records, webhook, re-hosted media (its audit trail keeps an account.erased tombstone). Refused with 409 account_not_empty while it holds money, unless force=true; idempotent',
        security: ADMIN,
        parameters: [pathParam('account', 'Account name'), ...queryParams(eraseQuery)],
        responses: {
          '200': ok('Erased (or already erased)', {
            type: 'object',
            properties: {
              account: { type: 'string' },
              erased: { const: true },
              already_erased: { type: 'boolean' },
              forfeited_micro: { type: 'integer' },
              released_hold_micro: { type: 'integer' },
              keys_deleted: { type: 'integer' },
              media_deleted: { type: 'integer' },
            },
          }),
          ...errors(400, 401, 409, 503),
        },
      },
    },
    '/admin/accounts/{account}/keys': { get: { summary: "An account's keys, with their budgets and what the current period has used", security: ADMIN, parameters: [pathParam('account', 'Account name')], responses: { '200': ok('Keys', { type: 'object', properties: { object: { const: 'list' }, account: { type: 'string' }, shared: { type: 'boolean' }, data: { type: 'array', items: ref('KeyInfo') } } }), ...errors(400, 401, 503) } } },
    '/admin/accounts/{account}/usage': {
      get: { summary: "An account's usage (JSON, or CSV with Accept: text/csv)", security: ADMIN, parameters: [pathParam('account', 'Account name'), ...queryParams(rangeQuery)], responses: { '200': { description: 'Usage', headers: REQUEST_ID, content: { 'application/json': { schema: ref('UsageList') }, 'text/csv': { schema: { type: 'string' } } } }, ...errors(400, 401, 503) } },
    },
    '/admin/accounts/{account}/audit': {
      get: { summary: "An account's audit trail as JSON Lines (operator actions and reads, generations, refunds, adjustments, media issued/downloaded, webhooks sent); filter by type (a prefix: operator matches operator.read) and actor (operator, a key id, system)", security: ADMIN, parameters: [pathParam('account', 'Account name'), ...queryParams(auditQuery)], responses: { '200': ok('One JSON object per line, oldest first', { type: 'string' }, {}, 'application/x-ndjson'), ...errors(400, 401, 503) } },
    },
    '/admin/accounts/{account}/credits': { post: { summary: 'Top up', security: ADMIN, parameters: [pathParam('account', 'Account name')], requestBody: jsonBody(creditBody), responses: { '200': ok('New balance', { type: 'object' }), ...errors(400, 401, 404, 503) } } },
    '/admin/accounts/{account}/adjustments': { post: { summary: 'A signed correction with a reason (never below zero available)', security: ADMIN, parameters: [pathParam('account', 'Account name')], requestBody: jsonBody(adjustBody), responses: { '201': ok('Applied', { type: 'object' }), ...errors(400, 401, 404, 503) } } },
    '/admin/accounts/{account}/webhook': {
      put: { summary: "Set the account's webhook endpoint (the secret is shown once)", security: ADMIN, parameters: [pathParam('account', 'Account name')], requestBody: jsonBody(webhookBody), responses: { '200': ok('Endpoint and secret', { type: 'object', properties: { url: { type: 'string' }, secret: { type: 'string', pattern: '^whsec_' } } }), ...errors(400, 401, 404, 503) } },
      get: {
        summary: "The account's webhook endpoint (never its secret) and its last delivery attempt",
        security: ADMIN,
        parameters: [pathParam('account', 'Account name')],
        responses: { '200': ok('Endpoint', { type: 'object', properties: { url: { type: ['string', 'null'] }, created_at: { type: ['integer', 'null'] }, last_delivery: { type: ['object', 'null'] } } }), ...errors(400, 401, 503) },
      },
      delete: { summary: "Remove the account's webhook endpoint", security: ADMIN, parameters: [pathParam('account', 'Account name')], responses: { '200': ok('Removed', { type: 'object' }), ...errors(400, 401, 404, 503) } },
    },
    '/admin/accounts/{account}/phi-scan': {
      put: { summary: "Override PHI content screening for one account (off | block | null = PHI_SCAN); audited", security: ADMIN, parameters: [pathParam('account', 'Account name')], requestBody: jsonBody(phiScanBody), responses: { '200': ok('The override and the mode now in effect', { type: 'object', properties: { account: { type: 'string' }, phi_scan: { enum: ['block', 'off', null] }, effective: { enum: ['block', 'off'] } } }), ...errors(400, 401, 404, 503) } },
    },
    '/admin/residency': {
      post: { summary: "Data residency migration: re-point the residency anchor from the old jurisdiction to DATA_JURISDICTION (Durable Object ledger)", security: ADMIN, requestBody: jsonBody(residencyBody), responses: { '200': ok('Moved', { type: 'object', properties: { residency: { type: 'string' }, moved_from: { type: 'string' } } }), ...errors(400, 401, 503) } },
    },
  };
  const responses: Json = {};
  for (const [status, codes] of Object.entries(STATUS_CODES)) {
    responses[`E${status}`] = {
      description: `Error: ${codes.join(', ')}`,
      headers: { ...REQUEST_ID, ...(status === '405' && { allow: header('The methods this path accepts') }), ...(['409', '429', '503'].includes(status) && { 'retry-after': header('Seconds to wait') }), ...(['502', '503', '504'].includes(status) && ATTEMPTS) },
      content: { 'application/json': { schema: ref('Error'), example: { error: { message: '…', type: '…', param: null, code: codes[0] } } } },
    };
  }
  const video = {
    type: 'object',
    required: ['id', 'object', 'model', 'status', 'progress', 'created_at', 'completed_at', 'expires_at', 'size', 'seconds', 'error'],
    properties: {
      id: { type: 'string', maxLength: 255 },
      object: { const: 'video' },
      model: { enum: MODELS.map((m) => m.id) },
      status: { enum: ['queued', 'in_progress', 'completed', 'failed'] },
      progress: { type: 'integer' },
      created_at: { type: 'integer' },
      completed_at: { type: ['integer', 'null'] },
      expires_at: { type: ['integer', 'null'] },
      prompt: { type: 'null' },
      size: { type: 'string' },
      seconds: { type: 'string', description: 'As asked' },
      remixed_from_video_id: { type: ['string', 'null'] },
      error: { type: ['object', 'null'] },
      url: { type: 'string', description: 'Extension, when completed: a signed URL' },
      cost_micro: { type: 'integer', description: 'Extension, when completed' },
      billed_seconds: { type: 'string', description: 'Extension, when completed: the duration billed' },
    },
  };
  return {
    openapi: '3.1.0',
    info: { title: 'phi-gateway', version: '1', description: 'Image and video generation for non-PHI content. Every error is the OpenAI envelope.' },
    servers: [{ url: '/' }],
    security: CUSTOMER,
    paths,
    webhooks: {
      'video.completed': { post: { summary: 'Sent to the account endpoint (Standard Webhooks signature)', requestBody: { content: { 'application/json': { schema: ref('Event') } } }, responses: { '200': { description: 'Any 2xx acknowledges' } } } },
    },
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'A customer API key (phi_…)' },
        adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' },
      },
      headers: {
        'x-request-id': header('The request id (also in the usage records)'),
        'x-phi-tier': header('Always non_phi on generation routes', { const: 'non_phi' }),
        'x-phi-cost-micro': header('What this request cost, micro-USD', { type: 'string', pattern: '^[0-9]+$' }),
        'x-phi-attempts': header('Images: upstream attempts made for this request, retries and fallbacks included (0: none, e.g. an open breaker or a replay)', { type: 'string', pattern: '^[0-9]+$' }),
        'x-phi-route': header('Images: the upstream endpoint that served (a fal endpoint id, or the worker workflow); a FALLBACKS endpoint when the primary failed'),
        'openai-poll-after-ms': header('While a video runs: poll again after this many ms'),
        'idempotent-replayed': header('true when the answer is the replay of an earlier request with the same Idempotency-Key'),
        'retry-after': header('Seconds to wait before retrying (429, 409, 503)'),
        'x-should-retry': header('false when retrying cannot help (402, a failed video)'),
        allow: header('On a 405: the methods the path accepts'),
        'content-range': header('On 206/416: the range served, or the size to ask within'),
        etag: header('Strong entity tag of a media file (If-None-Match → 304)'),
        'webhook-id': header('Customer webhooks: the event id, stable across retries'),
        'webhook-timestamp': header('Customer webhooks: unix seconds of this attempt'),
        'webhook-signature': header('Customer webhooks: v1,<base64 HMAC-SHA256 of id.timestamp.body> (Standard Webhooks)'),
      },
      responses,
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: { error: { type: 'object', required: ['message', 'type', 'param', 'code'], properties: { message: { type: 'string' }, type: { type: 'string' }, param: { type: ['string', 'null'] }, code: { enum: [...ERROR_CODES] } } } },
        },
        Model: { type: 'object', properties: { id: { type: 'string' }, object: { const: 'model' }, created: { type: 'integer' }, owned_by: { type: 'string' } } },
        ModelList: { type: 'object', properties: { object: { const: 'list' }, data: { type: 'array', items: ref('Model') } } },
        ImagesResponse: {
          type: 'object',
          required: ['created', 'data'],
          properties: {
            created: { type: 'integer' },
            data: { type: 'array', items: { type: 'object', properties: { url: { type: 'string' }, b64_json: { type: 'string' }, revised_prompt: { type: 'string' } } } },
            background: { type: 'string', enum: ['opaque'] },
            output_format: { type: 'string', enum: ['png', 'jpeg'] },
            size: { type: 'string', description: 'WIDTHxHEIGHT of the images, when known' },
            quality: { type: 'string', enum: ['low', 'medium', 'high'], description: 'The quality level the images were made at, where the model has one' },
          },
        },
        Video: video,
        VideoList: { type: 'object', properties: { object: { const: 'list' }, data: { type: 'array', items: ref('Video') }, first_id: { type: ['string', 'null'] }, last_id: { type: ['string', 'null'] }, has_more: { type: 'boolean' } } },
        VideoDeleted: { type: 'object', properties: { id: { type: 'string' }, object: { const: 'video.deleted' }, deleted: { const: true } } },
        Account: {
          type: 'object',
          properties: {
            account: { type: 'string' },
            tier: { enum: ['paid', 'test'] },
            key_id: { type: 'string' },
            balance_micro: { type: 'integer' },
            held_micro: { type: 'integer' },
            available_micro: { type: 'integer' },
            rate_limit: { type: 'object' },
            budget: {
              type: ['object', 'null'],
              description: "The key's budget, null when it has none",
              properties: { budget_micro: { type: 'integer' }, budget_period: { enum: ['day', 'month', 'total'] }, spent_micro: { type: 'integer' }, held_micro: { type: 'integer' }, remaining_micro: { type: 'integer' }, resets_at: { type: ['integer', 'null'] } },
            },
          },
        },
        IssuedKey: { type: 'object', properties: { key: { type: 'string' }, key_id: { type: 'string' }, account: { type: 'string' }, tier: { type: 'string' }, rpm: { type: 'integer' }, label: { type: ['string', 'null'] }, created_at: { type: 'integer' }, expires_at: { type: ['integer', 'null'] }, budget_micro: { type: ['integer', 'null'] }, budget_period: { enum: ['day', 'month', 'total', null] } } },
        KeyInfo: {
          type: 'object',
          properties: {
            key_id: { type: 'string' },
            label: { type: ['string', 'null'] },
            tier: { enum: ['paid', 'test'] },
            rpm: { type: 'integer' },
            created_at: { type: 'integer' },
            last_used_at: { type: ['integer', 'null'] },
            expires_at: { type: ['integer', 'null'] },
            revoked_at: { type: ['integer', 'null'] },
            budget_micro: { type: ['integer', 'null'] },
            budget_period: { enum: ['day', 'month', 'total', null] },
            budget_spent_micro: { type: ['integer', 'null'], description: "Charged under the budget's current period (net of refunds)" },
            budget_held_micro: { type: ['integer', 'null'], description: 'Held for running videos under the current period' },
            budget_resets_at: { type: ['integer', 'null'], description: 'Unix seconds; null for a total budget' },
          },
        },
        Stats: {
          type: 'object',
          properties: {
            object: { const: 'stats' },
            from: { type: 'integer' },
            to: { type: 'integer' },
            group: { enum: ['day', 'model', 'account', 'key'] },
            account: { type: ['string', 'null'] },
            accounts: { type: 'integer' },
            data: { type: 'array', items: ref('StatsRow') },
            total: ref('StatsRow'),
            truncated: { type: 'boolean' },
          },
        },
        StatsRow: {
          type: 'object',
          properties: {
            group: { type: 'string' },
            requests: { type: 'integer' },
            successes: { type: 'integer' },
            failures: { type: 'integer' },
            failure_codes: { type: 'object', additionalProperties: { type: 'integer' } },
            refusals: { type: 'object', properties: { insufficient_quota: { type: 'integer' }, budget_exceeded: { type: 'integer' }, rate_limit_exceeded: { type: 'integer' }, phi_blocked: { type: 'integer' } } },
            spend_micro: { type: 'integer' },
            latency_ms: { type: 'object', properties: { p50: { type: ['number', 'null'] }, p95: { type: ['number', 'null'] }, samples: { type: 'integer' } } },
          },
        },
        UsageList: {
          type: 'object',
          properties: {
            object: { const: 'list' },
            account: { type: 'string' },
            from: { type: 'integer' },
            to: { type: 'integer' },
            total_cost_micro: { type: 'integer' },
            has_more: { type: 'boolean' },
            data: { type: 'array', items: { type: 'object', properties: { at: { type: 'integer' }, type: { type: 'string' }, request_id: { type: ['string', 'null'] }, key_id: { type: ['string', 'null'] }, model: { type: ['string', 'null'] }, units: { type: ['number', 'null'] }, unit: { type: ['string', 'null'] }, cost_micro: { type: 'integer' }, video_id: { type: ['string', 'null'] }, reason: { type: ['string', 'null'] }, attempts: { type: 'integer', description: 'Present when the request needed more than one upstream attempt' }, route: { type: 'string', description: 'Present when a FALLBACKS endpoint served it' } } } },
          },
        },
        Event: { type: 'object', properties: { id: { type: 'string', pattern: '^evt_' }, object: { const: 'event' }, created_at: { type: 'integer' }, type: { enum: ['video.completed', 'video.failed'] }, data: { type: 'object', properties: { id: { type: 'string' } } } } },
      },
    },
  };
}
