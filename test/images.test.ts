import { describe, expect, inject, it } from 'vitest';
import { falOrigin, gateway, standinCalls, TEST_API_KEY, uniq, workerOrigin } from './helpers';

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const isPng = (b: Uint8Array) => PNG_MAGIC.every((v, i) => b[i] === v);
const b64bytes = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const falRuns = (prompt: string) => standinCalls(falOrigin(), (c) => c.method === 'POST' && (c.body as { prompt?: string })?.prompt === prompt);
const workerPrompts = (text: string) => standinCalls(workerOrigin(), (c) => c.path.endsWith('/prompt') && JSON.stringify(c.body).includes(text));

const post = (gw: ReturnType<typeof gateway>, key: string, body: unknown, headers: Record<string, string> = {}) =>
  gw.authed(key, '/v1/images/generations', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe('images: paid key → fal', () => {
  it('openai SDK images.generate (url) returns a re-hosted PNG and charges exactly 33000 per image', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 100_000 });
    const prompt = uniq('a calm clinic waiting room');
    const { data, response } = await gw.openai(key).images.generate({ model: 'krea-2', prompt, size: '1024x1024', n: 2 }).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('x-phi-cost-micro')).toBe('66000');
    expect(response.headers.get('x-phi-tier')).toBe('non_phi');
    expect(response.headers.get('x-request-id')).toMatch(/^req_/);
    expect(data.data).toHaveLength(2);
    for (const img of data.data!) {
      expect(img.url).toMatch(/^https:\/\/gw\.test\/v1\/media\/i_[0-9a-f]{16}_[0-9a-f]{32}\.png\?exp=\d+&sig=/);
      const file = await gw.fetch(img.url!);
      expect(file.status).toBe(200);
      expect(file.headers.get('content-type')).toBe('image/png');
      expect(isPng(new Uint8Array(await file.arrayBuffer()))).toBe(true);
    }
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 34_000, held_micro: 0, spent_micro: 66_000, charges: 1 });

    const [call] = await falRuns(prompt);
    expect(call!.path).toBe('/fal/run/fal-ai/flux/krea');
    expect(call!.headers.authorization).toBe('Key test-fal-key');
    expect(call!.headers['x-fal-store-io']).toBe('0');
    expect(call!.body).toMatchObject({ prompt, image_size: 'square_hd', num_images: 2, output_format: 'png' });
  });

  it('b64_json, a custom size and a seed map onto fal fields; with no R2 binding fal URLs pass through', async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key, account } = await gw.issueKey({ credits_micro: 33_000 });
    const prompt = uniq('b64');
    const res = await gw.openai(key).images.generate({ prompt, size: '1536x1024', response_format: 'b64_json', seed: 7 } as never);
    expect(isPng(b64bytes(res.data![0]!.b64_json!))).toBe(true);
    expect((await falRuns(prompt))[0]!.body).toMatchObject({ image_size: { width: 1536, height: 1024 }, seed: 7, num_images: 1 });
    expect((await gw.balance(account)).balance_micro).toBe(0);

    const url = (await gw.openai(key).images.generate({ prompt: uniq('x') }).catch((e) => e)) as { status: number };
    expect(url.status).toBe(402);
  });

  it('passes fal URLs through unchanged when MEDIA is unbound', async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key } = await gw.issueKey({ credits_micro: 33_000 });
    const res = await gw.openai(key).images.generate({ prompt: uniq('pass') });
    expect(res.data![0]!.url!.startsWith(`${falOrigin()}/files/`)).toBe(true);
    const bytes = new Uint8Array(await (await fetch(res.data![0]!.url!)).arrayBuffer());
    expect(isPng(bytes)).toBe(true);
  });

  it('402 insufficient_quota with zero upstream calls and nothing held', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 65_999 });
    const prompt = uniq('too expensive');
    const res = await post(gw, key, { prompt, n: 2 });
    expect(res.status).toBe(402);
    expect(await res.json()).toMatchObject({ error: { code: 'insufficient_quota', type: 'insufficient_quota' } });
    expect(await falRuns(prompt)).toHaveLength(0);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 65_999, held_micro: 0 });
  });

  it.each([
    ['#fal-422', 400, 'invalid_request'],
    ['#fal-500', 502, 'upstream_error'],
    ['#fal-503', 502, 'upstream_error'],
    ['#fal-timeout', 504, 'upstream_timeout'],
  ])('fal failure %s → %i %s, nothing charged, hold released', async (marker, status, code) => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 100_000 });
    const res = await post(gw, key, { prompt: `${uniq('fail')} ${marker}` });
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ code });
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(res.headers.get('x-phi-tier')).toBe('non_phi');
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 100_000, held_micro: 0, charges: 0 });
  });

  it('a gateway-side upstream timeout → 504 and nothing charged', async () => {
    const gw = gateway({ UPSTREAM_TIMEOUT_SECONDS: '1' });
    const { key, account } = await gw.issueKey({ credits_micro: 100_000 });
    const res = await post(gw, key, { prompt: `${uniq('hang')} #fal-hang` });
    expect(res.status).toBe(504);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 100_000, held_micro: 0 });
  });

  it('a partial result charges only the delivered images', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 100_000 });
    const res = await post(gw, key, { prompt: `${uniq('partial')} #fal-partial`, n: 3 });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-phi-cost-micro')).toBe('33000');
    expect(((await res.json()) as { data: unknown[] }).data).toHaveLength(1);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 67_000, held_micro: 0 });
  });

  it('Idempotency-Key replays the first result and charges once', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 100_000 });
    const body = { prompt: uniq('idem') };
    const first = await post(gw, key, body, { 'idempotency-key': 'k-1' });
    const second = await post(gw, key, body, { 'idempotency-key': 'k-1' });
    expect(second.status).toBe(200);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(first.headers.get('x-phi-cost-micro')).toBe('33000');
    expect(second.headers.get('x-phi-cost-micro')).toBe('0');
    expect(await second.json()).toEqual(await first.json());
    expect(await falRuns(body.prompt)).toHaveLength(1);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 67_000, charges: 1 });
    const other = await post(gw, key, { prompt: 'something else' }, { 'idempotency-key': 'k-1' });
    expect(other.status).toBe(400);
    expect(await other.json()).toMatchObject({ error: { param: 'Idempotency-Key' } });
  });

  it('concurrent requests against a balance for only some: exactly that many succeed, never negative', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 3 * 33_000, rpm: 1000 });
    const results = await Promise.all(Array.from({ length: 8 }, () => post(gw, key, { prompt: uniq('race') })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 402, 402, 402, 402, 402]);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 0, held_micro: 0, charges: 3 });
  });

  it('per-key rate limit → 429 rate_limit_exceeded with retry-after, before any upstream call', async () => {
    const gw = gateway();
    const { key } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 2 });
    const prompt = uniq('rl');
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push(await post(gw, key, { prompt }));
    expect(codes.map((r) => r.status)).toEqual([200, 200, 429]);
    const limited = codes[2]!;
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(await limited.json()).toMatchObject({ error: { code: 'rate_limit_exceeded', type: 'rate_limit_error' } });
    expect(await falRuns(prompt)).toHaveLength(2);
  });
});

describe('images: free test key → ComfyUI worker', () => {
  it('openai SDK url: served through a signed gateway URL, never the worker URL, $0', async () => {
    const gw = gateway({ MEDIA: undefined });
    const prompt = uniq('worker image');
    const { data, response } = await gw.openai(TEST_API_KEY).images.generate({ prompt, n: 2, size: '512x512' }).withResponse();
    expect(response.headers.get('x-phi-cost-micro')).toBe('0');
    const text = JSON.stringify(data);
    expect(text).not.toContain(new URL(workerOrigin()).host);
    for (const img of data.data!) {
      expect(img.url).toMatch(/^https:\/\/gw\.test\/v1\/media\/w_/);
      const file = await gw.fetch(img.url!);
      expect(file.status).toBe(200);
      expect(isPng(new Uint8Array(await file.arrayBuffer()))).toBe(true);
    }
    const [call] = await workerPrompts(prompt);
    expect(call!.headers.authorization).toBe('Bearer test-worker-token');
    const graph = (call!.body as { prompt: Record<string, { class_type: string; inputs: Record<string, unknown> }> }).prompt;
    const latent = Object.values(graph).find((n) => n.class_type === 'EmptySD3LatentImage')!;
    expect(latent.inputs).toMatchObject({ width: 512, height: 512, batch_size: 2 });
    expect(await falRuns(prompt)).toHaveLength(0);
  });

  it('openai SDK b64_json from the worker; re-hosted in R2 when bound', async () => {
    const gw = gateway();
    const b64 = await gw.openai(TEST_API_KEY).images.generate({ prompt: uniq('w64'), response_format: 'b64_json' });
    expect(isPng(b64bytes(b64.data![0]!.b64_json!))).toBe(true);
    const url = await gw.openai(TEST_API_KEY).images.generate({ prompt: uniq('wr2') });
    expect(url.data![0]!.url).toMatch(/\/v1\/media\/i_[0-9a-f]{16}_[0-9a-f]{32}\.png\?/);
    expect(isPng(new Uint8Array(await (await gw.fetch(url.data![0]!.url!)).arrayBuffer()))).toBe(true);
  });

  it.each([
    ['#comfy-error', 502],
    ['#comfy-invalid', 502],
  ])('worker failure %s → %i upstream_error', async (marker, status) => {
    const gw = gateway();
    const res = await post(gw, TEST_API_KEY, { prompt: `${uniq('wf')} ${marker}` });
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('upstream_error');
    expect(body.error.message).not.toContain('127.0.0.1');
  });
});

describe('images: request validation (400 naming the field, nothing charged)', () => {
  it.each([
    [{ n: 1 }, 'prompt'],
    [{ prompt: 'x', n: 5 }, 'n'],
    [{ prompt: 'x', size: '1000x1000' }, 'size'],
    [{ prompt: 'x', size: 'huge' }, 'size'],
    [{ prompt: 'x', response_format: 'jpeg' }, 'response_format'],
    [{ prompt: 'x', output_format: 'webp' }, 'output_format'],
    [{ prompt: 'x', model: 'wan' }, 'model'],
    [{ prompt: 'x', stream: true, partial_images: 2 }, 'partial_images'],
    [{ prompt: 'x', stream: true, response_format: 'url' }, 'response_format'],
    [{ prompt: 'x', style: 'vivid' }, 'style'],
    [{ prompt: 'x', background: 'transparent' }, 'background'],
    [{ prompt: 'x', sise: '512x512' }, 'sise'],
  ])('%j → 400 param %s', async (body, param) => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 100_000 });
    const res = await post(gw, key, body);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_request', param, type: 'invalid_request_error' } });
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 100_000, held_micro: 0 });
  });

  it('tolerates unknown and null OpenAI fields', async () => {
    const gw = gateway();
    const { key } = await gw.issueKey({ credits_micro: 33_000 });
    const res = await post(gw, key, { prompt: uniq('tol'), quality: 'hd', style: null, user: 'u1', background: 'auto', n: null, size: null });
    expect(res.status).toBe(200);
  });

  it('unknown model → 404 model_not_found', async () => {
    const gw = gateway();
    const { key } = await gw.issueKey({ credits_micro: 33_000 });
    const res = await post(gw, key, { prompt: 'x', model: 'midjourney-7' });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'model_not_found', param: 'model' } });
  });

  it('provider not configured → 503 provider_unavailable, nothing held', async () => {
    const gw = gateway({ FAL_KEY: undefined, WORKER_URL: undefined });
    const { key, account } = await gw.issueKey({ credits_micro: 33_000 });
    for (const k of [key, TEST_API_KEY]) {
      const res = await post(gw, k, { prompt: 'x' });
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: { code: 'provider_unavailable' } });
    }
    expect(await gw.balance(account)).toMatchObject({ held_micro: 0, balance_micro: 33_000 });
  });
});

describe('images: worker auth and deadlines', () => {
  const sigv4Env = (secret: string) => ({
    WORKER_URL: inject('sigv4WorkerUrl'),
    WORKER_TOKEN: undefined,
    WORKER_AWS_ACCESS_KEY_ID: 'AKIDTESTWORKER',
    WORKER_AWS_SECRET_ACCESS_KEY: secret,
    WORKER_AWS_REGION: 'us-east-1',
    WORKER_AWS_SERVICE: 'execute-api',
    MEDIA: undefined,
  });

  it('SigV4 in front of the worker: prompt, history and /view are signed', async () => {
    const gw = gateway(sigv4Env('test-worker-secret-key'));
    const { key } = await gw.issueKey({ tier: 'test', rpm: 100 });
    const prompt = uniq('sigv4');
    const res = await post(gw, key, { prompt });
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as { data: { url: string }[] };
    const file = await gw.fetch(data[0]!.url);
    expect(isPng(new Uint8Array(await file.arrayBuffer()))).toBe(true);
    const calls = await standinCalls(inject('sigv4WorkerUrl'), (c) => c.path.startsWith('/sigv4'));
    expect(calls.length).toBeGreaterThan(2);
    expect(calls.every((c) => c.headers.authorization?.startsWith('AWS4-HMAC-SHA256 Credential=AKIDTESTWORKER/'))).toBe(true);
  });

  it('a wrong SigV4 secret → 502 upstream_error', async () => {
    const gw = gateway(sigv4Env('wrong-secret'));
    const { key } = await gw.issueKey({ tier: 'test', rpm: 100 });
    const res = await post(gw, key, { prompt: uniq('bad sig') });
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ error: { code: 'upstream_error' } });
  });

  it('a worker that never finishes → 504 upstream_timeout', async () => {
    const gw = gateway({ UPSTREAM_TIMEOUT_SECONDS: '1' });
    const { key } = await gw.issueKey({ tier: 'test', rpm: 100 });
    const res = await post(gw, key, { prompt: `${uniq('hang')} #comfy-hang` });
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({ error: { code: 'upstream_timeout' } });
  });
});
