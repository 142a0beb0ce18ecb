// The OpenAPI paths of the operator API under /admin (ADMIN_TOKEN).
import { adjustBody, creditBody, eraseQuery, issueBody, pageQuery, patchKeyBody, phiScanBody, residencyBody, webhookBody } from '../routes/admin';
import { auditQuery, rangeQuery } from '../routes/usage';
import { statsQuery } from '../routes/stats';
import { ADMIN, errors, jsonBody, type Json, ok, pathParam, queryParams, ref, REQUEST_ID } from './parts';

export function adminPaths(): Json {
  return {
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
}
