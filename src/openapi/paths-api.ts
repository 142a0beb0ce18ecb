// The OpenAPI paths of the public and customer API: health, the document itself, models, account and usage,
// images, videos, media, and fal's webhook.
import { editBody as editFields, imageBody, MAX_EDIT_IMAGES } from '../routes/images';
import { listQuery, remixBody, videoBody } from '../routes/videos';
import { rangeQuery } from '../routes/usage';
import { CUSTOMER, COST, ATTEMPTS, errors, header, IDEM, jsonBody, type Json, ok, PHI, pathParam, queryParams, ref, schemaOf, TIER } from './parts';

export function apiPaths(): Json {
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
  return {
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
  };
}
