// Logs carry no content: drive the success and fault paths and read everything the gateway wrote to the console.
// Each request must leave exactly one JSON line with request id, route, status, ms, cost and error code — and no
// prompt, image bytes, URL, key, token or secret anywhere.
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { getConfig } from '../src/config';
import { signMediaPath } from '../src/media/sign';
import { ADMIN_TOKEN, gateway, requireService, TEST_API_KEY, uniq, type Gateway } from './helpers';

const faultyUrl = inject('faultyUpstashUrl');
requireService('fault proxy in front of the Upstash stand-in', faultyUrl);

const lines: string[] = [];
const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;

beforeAll(() => {
  for (const m of methods) {
    vi.spyOn(console, m).mockImplementation((...args: unknown[]) => {
      lines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a) ?? String(a))).join(' '));
    });
  }
});
afterAll(() => vi.restoreAllMocks());

const post = (gw: Gateway, key: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
  gw.authed(key, path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
const fault = (match: string, mode: string, skip = 0) =>
  fetch(`${faultyUrl}/__faults`, { method: 'POST', body: JSON.stringify({ match, mode, skip }) });

describe('logs carry no content', () => {
  it('one JSON line per request, and nothing private in any of them, across success and fault paths', async () => {
    const secrets: string[] = [ADMIN_TOKEN, TEST_API_KEY, 'test-fal-key', 'test-worker-token', inject('upstashToken')];
    const prompts: string[] = [];
    const prompt = (tag: string) => {
      const p = uniq(`private prompt ${tag}`);
      prompts.push(p);
      return p;
    };
    let requests = 0;
    const count = <T>(r: T) => {
      requests++;
      return r;
    };

    const gw = gateway();
    secrets.push(gw.env.SIGNING_SECRET!);
    const issued = count(await gw.admin('/admin/keys', { method: 'POST', body: JSON.stringify({ tier: 'paid', credits_micro: 5_000_000, rpm: 1000 }) }));
    const { key, account } = (await issued.json()) as { key: string; account: string };
    secrets.push(key);

    // Success: a re-hosted image, fetched through its signed URL; an inline image; a video to completion.
    const img = count(await post(gw, key, '/v1/images/generations', { prompt: prompt('url') }));
    const url = ((await img.json()) as { data: { url: string }[] }).data[0]!.url;
    const sig = new URL(url).searchParams.get('sig')!;
    secrets.push(sig);
    count(await gw.fetch(url));
    const inline = count(await post(gateway({ MEDIA: undefined }), key, '/v1/images/generations', { prompt: prompt('b64'), response_format: 'b64_json' }));
    const b64 = ((await inline.json()) as { data: { b64_json: string }[] }).data[0]!.b64_json;
    const video = count(await post(gw, key, '/v1/videos', { prompt: prompt('video'), seconds: 2 }));
    const { id } = (await video.json()) as { id: string };
    secrets.push(id);
    await new Promise((r) => setTimeout(r, 1_600));
    count(await gw.authed(key, `/v1/videos/${id}`));
    count(await gw.authed(key, `/v1/videos/${id}/content`));

    // Provider faults, a fal 422 quoting a CDN URL, a worker crash.
    for (const marker of ['#fal-500', '#fal-timeout', '#fal-422-url']) count(await post(gw, key, '/v1/images/generations', { prompt: `${prompt(marker)} ${marker}` }));
    const testKey = await gw.issueKey({ tier: 'test', rpm: 1000 });
    requests++;
    secrets.push(testKey.key);
    count(await post(gw, testKey.key, '/v1/images/generations', { prompt: `${prompt('worker')} #comfy-error` }));

    // Store faults on Upstash: failing the call that stores a b64_json response for replays (the image is still
    // delivered), then failing the admit itself (503, and the charge's reversal queued).
    const upstash = gateway({ UPSTASH_REDIS_REST_URL: faultyUrl, UPSTASH_REDIS_REST_TOKEN: inject('upstashToken'), MEDIA: undefined });
    const onUpstash = await upstash.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    requests++;
    secrets.push(onUpstash.key);
    await fault(`["hset","phi:{${onUpstash.account}}:i:`, 'fail'); // the call that stores the replay

    const stored = count(
      await post(upstash, onUpstash.key, '/v1/images/generations', { prompt: prompt('idem'), response_format: 'b64_json' }, { 'idempotency-key': 'private-idem-key-1' }),
    );
    expect(stored.status).toBe(200);
    secrets.push('private-idem-key-1');
    await fault(onUpstash.account, 'fail'); // every call of that account
    const refused = count(await post(upstash, onUpstash.key, '/v1/images/generations', { prompt: prompt('down'), response_format: 'b64_json' }));
    expect(refused.status).toBe(503);
    await fetch(`${faultyUrl}/__faults?match=${encodeURIComponent(onUpstash.account)}`, { method: 'DELETE' });
    const dead = gateway({ UPSTASH_REDIS_REST_URL: inject('deadUrl'), UPSTASH_REDIS_REST_TOKEN: 'dead-store-token' });
    secrets.push('dead-store-token');
    count(await post(dead, 'phi_some_unknown_key_value', '/v1/images/generations', { prompt: prompt('dead') }));
    secrets.push('phi_some_unknown_key_value');

    // Refusals and breakage: bad key, PHI, unknown route, oversized body, internal error, broken config.
    count(await post(gw, 'phi_wrong_key_abcdef', '/v1/images/generations', { prompt: prompt('badkey') }));
    secrets.push('phi_wrong_key_abcdef');
    count(await post(gw, key, '/v1/images/generations', { prompt: prompt('phi') }, { 'x-phi': 'true' }));
    count(await gw.fetch('/v1/nowhere/secret-path-segment'));
    count(await post(gw, key, '/v1/images/generations', { prompt: 'x'.repeat(2 * 1024 * 1024) }));
    const exploding = gateway({ MEDIA: { head: () => Promise.reject(new TypeError('boom with https://secret.example/path')) } as unknown as R2Bucket });
    count(await exploding.fetch(await signMediaPath(getConfig(exploding.env), 'i_x.png')));
    count(await gateway({ SIGNING_SECRET: undefined }).fetch('/v1/models'));

    const json = lines.map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return null;
      }
    });
    expect(json.every(Boolean), lines.filter((_, i) => !json[i]).join('\n')).toBe(true);
    expect(json).toHaveLength(requests);
    for (const line of json) expect(Object.keys(line!).sort()).toEqual(['cost_micro', 'error', 'model', 'ms', 'provider', 'request_id', 'route', 'status', 'upstream_ms']);
    const codes = json.map((l) => l!.error);
    for (const code of ['upstream_error', 'upstream_timeout', 'invalid_request', 'store_unavailable', 'invalid_api_key', 'phi_blocked', 'not_found', 'payload_too_large', 'internal_error', 'config_invalid']) {
      expect(codes).toContain(code);
    }
    expect(json.some((l) => l!.cost_micro === 33_000)).toBe(true);
    // What served it, and how long upstream took: the canonical model and provider, never a URL or an endpoint id.
    expect(json.some((l) => l!.model === 'krea-2' && l!.provider === 'fal' && typeof l!.upstream_ms === 'number' && l!.cost_micro === 33_000)).toBe(true);
    expect(json.some((l) => l!.model === 'wan' && l!.route === 'POST /v1/videos')).toBe(true);

    const all = lines.join('\n');
    expect(all).not.toMatch(/https?:\/\//);
    expect(all).not.toContain('iVBOR'); // PNG bytes in base64
    expect(all).not.toContain(b64.slice(0, 40));
    expect(all).not.toMatch(/[A-Za-z0-9+/]{200,}/);
    for (const p of prompts) expect(all).not.toContain(p);
    for (const s of secrets) expect(all, 'a secret reached the logs').not.toContain(s);
    expect(all).not.toContain(account);
  });
});
