// The OpenAPI document's components: the error response of each status, the response headers, the object schemas.
import { MODELS } from '../catalog/models';
import { ERROR_CODES } from '../http/errors';
import { ATTEMPTS, header, type Json, ref, REQUEST_ID } from './parts';

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

export function components(): Json {
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
  };
}
