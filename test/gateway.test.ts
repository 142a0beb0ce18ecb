// The spine: error envelope everywhere, request ids, body limits, config validation, auth, PHI gate, admin, account.
import { describe, expect, inject, it } from 'vitest';
import { getConfig } from '../src/config';
import { signMediaPath } from '../src/media/sign';
import { falOrigin, gateway, standinCalls, TEST_API_KEY, uniq, workerOrigin } from './helpers';

const envelope = async (res: Response) => {
  const body = (await res.json()) as { error: Record<string, unknown> };
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(res.headers.get('content-type')).toContain('application/json');
  expect(res.headers.get('x-request-id')).toMatch(/^req_/);
  return body.error;
};

describe('HTTP basics', () => {
  it('GET /healthz needs no auth', async () => {
    const res = await gateway().fetch('/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', residency: { region: 'unrestricted', ledger: 'durable_object', note: expect.any(String) } });
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
  });

  it('unknown route → 404 not_found envelope (not Hono text)', async () => {
    const res = await gateway().fetch('/v1/nope', { method: 'POST' });
    expect(res.status).toBe(404);
    expect(await envelope(res)).toMatchObject({ code: 'not_found', type: 'not_found_error' });
  });

  it('malformed JSON → 400 invalid_request', async () => {
    const gw = gateway();
    const { key } = await gw.issueKey();
    const res = await gw.authed(key, '/v1/images/generations', { method: 'POST', body: '{"prompt": ' });
    expect(res.status).toBe(400);
    expect(await envelope(res)).toMatchObject({ code: 'invalid_request', param: null });
    const arr = await gw.admin('/admin/keys', { method: 'POST', body: '[1]' });
    expect(arr.status).toBe(400);
  });

  it('body over the limit → 413 payload_too_large (declared or streamed)', async () => {
    const gw = gateway();
    const { key } = await gw.issueKey();
    const big = JSON.stringify({ prompt: 'x'.repeat(1024 * 1024 + 10) });
    const res = await gw.authed(key, '/v1/images/generations', { method: 'POST', body: big });
    expect(res.status).toBe(413);
    expect(await envelope(res)).toMatchObject({ code: 'payload_too_large' });
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 80; i++) c.enqueue(new Uint8Array(1024));
        c.close();
      },
    });
    const admin = await gw.admin('/admin/keys', { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(admin.status).toBe(413);
  });

  it('an unexpected exception → 500 internal_error envelope, not a stack trace', async () => {
    const exploding = { head: () => { throw new TypeError('boom at /secret/path'); } } as unknown as R2Bucket;
    const gw = gateway({ MEDIA: exploding });
    const res = await gw.fetch(await signMediaPath(getConfig(gw.env), 'i_x.png'));
    expect(res.status).toBe(500);
    const err = await envelope(res);
    expect(err).toMatchObject({ code: 'internal_error', type: 'server_error', message: 'Internal error' });
  });

  it('a missing required secret fails with a message naming it, not a stack trace', async () => {
    const res = await gateway({ SIGNING_SECRET: undefined }).fetch('/v1/models');
    expect(res.status).toBe(500);
    const err = await envelope(res);
    expect(err).toMatchObject({ code: 'config_invalid' });
    expect(err.message).toContain('SIGNING_SECRET');
    const half = await gateway({ UPSTASH_REDIS_REST_URL: 'https://x.upstash.io' }).fetch('/v1/models');
    expect((await envelope(half)).message).toContain('UPSTASH_REDIS_REST_TOKEN');
    const bad = await gateway({ FAL_RUN_URL: 'not a url' }).fetch('/v1/models');
    expect((await envelope(bad)).message).toContain('FAL_RUN_URL');
  });
});

describe('auth', () => {
  it.each([
    ['missing', undefined],
    ['malformed', 'Basic abc'],
    ['unknown', 'Bearer phi_nope'],
  ])('%s key → 401 invalid_api_key', async (_, auth) => {
    const res = await gateway().fetch('/v1/account', { headers: auth ? { authorization: auth } : {} });
    expect(res.status).toBe(401);
    expect(await envelope(res)).toMatchObject({ code: 'invalid_api_key', type: 'authentication_error' });
  });

  it('a revoked key stops working (cache window ≤ 5 s, immediate in the revoking isolate)', async () => {
    const gw = gateway();
    const { key, key_id } = await gw.issueKey();
    expect((await gw.authed(key, '/v1/account')).status).toBe(200);
    const del = await gw.admin(`/admin/keys/${key_id}`, { method: 'DELETE' });
    expect(await del.json()).toEqual({ key_id, revoked: true });
    expect((await gw.authed(key, '/v1/account')).status).toBe(401);
    // Idempotent (issue 13): revoking again answers the same.
    expect((await gw.admin(`/admin/keys/${key_id}`, { method: 'DELETE' })).status).toBe(200);
  });

  it('keys are stored hashed: the plaintext is nowhere in the ledger', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey();
    const view = JSON.stringify(await gw.balance(account));
    expect(view).not.toContain(key);
  });

  it('admin API requires ADMIN_TOKEN', async () => {
    const gw = gateway();
    for (const auth of [undefined, 'Bearer wrong', `Bearer ${TEST_API_KEY}`]) {
      const res = await gw.fetch('/admin/keys', { method: 'POST', headers: auth ? { authorization: auth } : {}, body: '{"tier":"paid"}' });
      expect(res.status).toBe(401);
    }
  });

  it('ledger unreachable → 503 store_unavailable (fail closed)', async () => {
    const gw = gateway({ UPSTASH_REDIS_REST_URL: inject('deadUrl'), UPSTASH_REDIS_REST_TOKEN: 't' });
    const res = await gw.authed('phi_whatever', '/v1/images/generations', { method: 'POST', body: '{"prompt":"x"}' });
    expect(res.status).toBe(503);
    expect(await envelope(res)).toMatchObject({ code: 'store_unavailable' });
    expect((await gw.admin('/admin/keys', { method: 'POST', body: '{"tier":"paid"}' })).status).toBe(503);
  });
});

describe('PHI gate', () => {
  // The stand-ins are shared with test files running at the same time: calls are told apart by a unique prompt.
  const marker = uniq('phi-blocked');
  const routes: [string, string, string | undefined][] = [
    ['POST', '/v1/images/generations', JSON.stringify({ prompt: marker })],
    ['POST', '/v1/videos/generations', JSON.stringify({ prompt: marker })],
    ['POST', '/v1/videos', JSON.stringify({ prompt: marker })],
    ['GET', '/v1/videos/video_abc', undefined],
    ['GET', '/v1/videos/video_abc/content', undefined],
  ];

  it.each(routes)('%s %s with X-PHI → 403 phi_blocked, no upstream call, no ledger change', async (method, path, body) => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 500_000, rpm: 1 });
    const before = await gw.balance(account);
    for (const flag of ['true', 'TRUE', '1', 'yes']) {
      const res = await gw.authed(key, path, { method, body, headers: { 'x-phi': flag, 'content-type': 'application/json' } });
      expect(res.status).toBe(403);
      expect(res.headers.get('x-phi-tier')).toBe('non_phi');
      expect(await envelope(res)).toMatchObject({ code: 'phi_blocked', type: 'permission_error' });
    }
    expect(await gw.balance(account)).toEqual(before);
    // The rate-limit window (rpm 1) was not touched by the four blocked calls.
    const okPrompt = uniq('after phi');
    const ok = await gw.authed(key, '/v1/images/generations', { method: 'POST', body: JSON.stringify({ prompt: okPrompt }) });
    expect(ok.status).toBe(200);
    const mentions = (text: string) => (c: { body: unknown }) => JSON.stringify(c.body ?? '').includes(text);
    expect(await standinCalls(falOrigin(), mentions(okPrompt))).toHaveLength(1); // the one run
    expect(await standinCalls(falOrigin(), mentions(marker))).toEqual([]);
    expect(await standinCalls(workerOrigin(), mentions(marker))).toEqual([]);
  });

  it('X-PHI: false is not blocked; generation errors still carry x-phi-tier', async () => {
    const gw = gateway();
    const res = await gw.fetch('/v1/images/generations', { method: 'POST', headers: { 'x-phi': 'false' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('x-phi-tier')).toBe('non_phi');
  });
});

describe('operator API and account', () => {
  it('issues a key shown once, tops up, and reports balance, holds and usage', async () => {
    const gw = gateway();
    const account = uniq('clinic');
    const issue = await gw.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ tier: 'paid', account, credits_micro: 50_000, rpm: 30 }) });
    expect(issue.status).toBe(201);
    const k = (await issue.json()) as Record<string, string>;
    expect(k).toEqual({ key: expect.stringMatching(/^phi_/), key_id: expect.stringMatching(/^key_/), account, tier: 'paid', rpm: 30, label: null, created_at: expect.any(Number), expires_at: null, budget_micro: null, budget_period: null });
    const top = await gw.admin(`/admin/accounts/${account}/credits`, { method: 'POST', body: JSON.stringify({ amount_micro: 16_000 }) });
    expect(await top.json()).toEqual({ account, balance_micro: 66_000 });
    const me = await gw.authed(k.key!, '/v1/account');
    expect(await me.json()).toEqual({ account, tier: 'paid', key_id: k.key_id, balance_micro: 66_000, held_micro: 0, available_micro: 66_000, rate_limit: { rpm: 30 }, budget: null, residency: expect.objectContaining({ region: 'unrestricted' }) });
    await gw.authed(k.key!, '/v1/images/generations', { method: 'POST', body: JSON.stringify({ prompt: uniq('usage') }) });
    const view = await gw.balance(account);
    expect(view).toMatchObject({ balance_micro: 33_000, spent_micro: 33_000, charges: 1, available_micro: 33_000 });
    expect(view.usage).toEqual([expect.objectContaining({ type: 'image', model: 'krea-2', units: 1, cost_micro: 33_000 })]);
  });

  it('rejects bad operator input with 400 naming the field', async () => {
    const gw = gateway();
    const cases: [string, unknown, string][] = [
      ['/admin/keys', { tier: 'gold' }, 'tier'],
      ['/admin/keys', { tier: 'paid', credits_micro: 1.5 }, 'credits_micro'],
      ['/admin/keys', { tier: 'paid', account: 'bad name!' }, 'account'],
      ['/admin/accounts/a1/credits', { amount_micro: -5 }, 'amount_micro'],
      ['/admin/accounts/a1/credits', {}, 'amount_micro'],
    ];
    for (const [path, body, param] of cases) {
      const res = await gw.admin(path, { method: 'POST', body: JSON.stringify(body) });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: 'invalid_request', param } });
    }
    expect((await gw.admin('/admin/accounts/nobody-here')).status).toBe(404);
  });

  it('the shared test key reports tier test with a tight limit', async () => {
    const res = await gateway().authed(TEST_API_KEY, '/v1/account');
    expect(await res.json()).toMatchObject({ account: 'test', tier: 'test', balance_micro: 0, rate_limit: { rpm: 10 } });
  });
});
