// Property-based fuzzing of every route and parser (fast-check, seeded, bounded). For any request the gateway
// answers without an unmapped 5xx, always in the OpenAI envelope with x-request-id (and x-phi-tier on generation
// routes), and a rejected request moves no money. Set FUZZ_SEED / FUZZ_RUNS to explore further.
import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import { getConfig } from '../src/config';
import { decodeJob } from '../src/jobs/id';
import { verifyMediaPath } from '../src/media/sign';
import { parseRange } from '../src/media/store';
import { sniff } from '../src/media/sniff';
import { customerUrl, allowedOutput, parseHostList } from '../src/http/urls';
import { parseImageSize } from '../src/routes/images';
import { ApiError } from '../src/http/errors';
import { b64url, fromB64url } from '../src/http/crypto';
import { ADMIN_TOKEN, gateway, PNG_BYTES, wavBytes } from './helpers';

const { seed: SEED, runs: RUNS } = inject('fuzz');
const opts = (numRuns = RUNS) => ({ seed: SEED, numRuns, endOnFailure: true });

/** The 5xx answers the contract allows: provider failures, provider/store unavailable. */
const MAPPED_5XX: Record<number, string[]> = { 502: ['upstream_error'], 503: ['provider_unavailable', 'store_unavailable'], 504: ['upstream_timeout'] };

const text = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.constantFrom('', ' ', '\u0000', '../..', '%00', '😀', 'null', '-1', '1e999'));
const num = fc.oneof(fc.integer({ min: -5, max: 10 }), fc.double(), fc.constantFrom(0, 1, 4, 2 ** 53, -0, 1.5), fc.string({ maxLength: 6 }));
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });

/** Bodies shaped like the real requests, with every field possibly wrong. */
const imageBody = fc.record(
  {
    prompt: fc.oneof(text, fc.constant('a calm lobby'), fc.constant(null), num),
    model: maybe(fc.oneof(text, fc.constantFrom('krea-2', 'wan', 'avatar', 'gpt-image-1', null))),
    n: maybe(fc.oneof(num, fc.constant(null))),
    size: maybe(fc.oneof(text, fc.constantFrom('1024x1024', '512x512', 'auto', '0x0', '99999x1', null))),
    response_format: maybe(fc.oneof(text, fc.constantFrom('url', 'b64_json', null))),
    output_format: maybe(fc.constantFrom('png', 'jpeg', 'webp', 'gif', 1)),
    seed: maybe(num),
    stream: maybe(fc.oneof(fc.boolean(), text)),
  },
  { requiredKeys: [] },
);
const urlish = fc.oneof(
  text,
  fc.constantFrom('https://example.com/a.png', 'http://127.0.0.1/x', 'https://[::1]/a', 'data:image/png;base64,AAAA', 'data:,x', 'https://2130706433/'),
  fc.webUrl(),
);
const videoBody = fc.record(
  {
    prompt: fc.oneof(text, fc.constant('a slow pan'), fc.constant(null)),
    model: maybe(fc.oneof(text, fc.constantFrom('wan', 'avatar', 'bernini', 'krea-2', 'sora-2', null))),
    seconds: maybe(num),
    frames: maybe(num),
    size: maybe(fc.oneof(text, fc.constantFrom('1280x720', '720x1280', '16x16'))),
    seed: maybe(num),
    image_url: maybe(urlish),
    audio_url: maybe(urlish),
    input_reference: maybe(fc.oneof(fc.record({ image_url: urlish }), text, fc.constant(null))),
  },
  { requiredKeys: [] },
);
const adminBody = fc.record(
  {
    tier: maybe(fc.oneof(fc.constantFrom('paid', 'test'), text)),
    account: maybe(fc.oneof(text, fc.constantFrom('test', 'clinic-1', 'A', ''))),
    credits_micro: maybe(num),
    rpm: maybe(num),
    amount_micro: maybe(num),
    create: maybe(fc.oneof(fc.boolean(), text)),
  },
  { requiredKeys: [] },
);

type Body = { kind: 'json'; value: unknown } | { kind: 'raw'; value: string } | { kind: 'multipart'; fields: [string, string | 'png' | 'wav' | 'junk'][] } | { kind: 'none' };
const body: fc.Arbitrary<Body> = fc.oneof(
  fc.record({ kind: fc.constant('json' as const), value: fc.oneof(imageBody, videoBody, adminBody) }),
  fc.record({ kind: fc.constant('json' as const), value: fc.jsonValue({ maxDepth: 3 }) }),
  fc.record({ kind: fc.constant('raw' as const), value: fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('{', '{"prompt":', '[]', 'null', '""', '{"prompt":"x"}')) }),
  fc.record({
    kind: fc.constant('multipart' as const),
    fields: fc.array(
      fc.tuple(fc.constantFrom('prompt', 'model', 'seconds', 'size', 'input_reference', 'audio', 'image', 'input_reference[image_url]', 'x'), fc.oneof(text, fc.constantFrom('png', 'wav', 'junk'))),
      { maxLength: 5 },
    ),
  }),
  fc.constant({ kind: 'none' as const }),
);

const ROUTES = [
  '/healthz',
  '/v1/models',
  '/v1/models/{x}',
  '/v1/pricing',
  '/v1/account',
  '/v1/images/generations',
  '/v1/images/{x}',
  '/v1/videos',
  '/v1/videos/generations',
  '/v1/videos/{x}',
  '/v1/videos/{x}/content',
  '/v1/media/{x}',
  '/admin/keys',
  '/admin/keys/{x}',
  '/admin/accounts/{x}',
  '/admin/accounts/{x}/credits',
  '/{x}',
];
const segment = fc.oneof(
  fc.constantFrom('krea-2', 'wan', 'video_', 'video_abc', 'i_x.png', 'w_e30', 'test', 'clinic-1', '..', '%2e%2e', 'key_x', 'generations'),
  fc.stringMatching(/^[A-Za-z0-9_.~-]{1,40}$/),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
);
const query = fc.oneof(
  fc.constant(''),
  fc.record({ exp: fc.oneof(fc.nat().map(String), text), sig: text, variant: fc.constantFrom('video', 'thumbnail', 'x') }, { requiredKeys: [] }).map((q) => `?${new URLSearchParams(q as Record<string, string>)}`),
);
const ascii = fc.stringMatching(/^[\x20-\x7e]{0,24}$/);
const common = {
  segment,
  query,
  phi: fc.oneof(fc.constant(undefined), fc.constant(undefined), fc.constant(undefined), fc.constantFrom('false', 'true', 'false, true', ' no ', 'maybe')),
  idem: maybe(fc.oneof(fc.constantFrom('k1', 'k2'), ascii)),
  range: maybe(fc.oneof(fc.constantFrom('bytes=0-9', 'bytes=999999-', 'bytes=-5', 'bytes=5-2', 'bytes=abc'), ascii)),
  contentType: maybe(fc.constantFrom('application/json', 'text/plain', 'multipart/form-data', 'application/x-www-form-urlencoded', 'garbage')),
  body,
};
/** Anything at all… */
const anyRequest = fc.record({
  method: fc.constantFrom('GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'),
  route: fc.constantFrom(...ROUTES),
  auth: fc.constantFrom('paid', 'paid', 'poor', 'test', 'admin', 'none', 'garbage'),
  ...common,
});
/** …and requests that are right but for their body, to reach the deeper paths (providers, ledger, delivery). */
const nearValid = fc
  .constantFrom(
    ['POST', '/v1/images/generations', 'paid'],
    ['POST', '/v1/images/generations', 'test'],
    ['POST', '/v1/images/generations', 'poor'],
    ['POST', '/v1/videos', 'paid'],
    ['POST', '/v1/videos/generations', 'test'],
    ['POST', '/admin/keys', 'admin'],
    ['POST', '/admin/accounts/{x}/credits', 'admin'],
    ['GET', '/v1/videos/{x}/content', 'paid'],
  )
  .chain(([method, route, auth]) => fc.record({ method: fc.constant(method!), route: fc.constant(route!), auth: fc.constant(auth!), ...common, phi: fc.constant(undefined) }));
const request = fc.oneof(anyRequest, nearValid);

function encodeBody(b: Body, contentType: string | undefined): { body?: BodyInit; headers: Record<string, string> } {
  switch (b.kind) {
    case 'none':
      return { headers: contentType ? { 'content-type': contentType } : {} };
    case 'raw':
      return { body: b.value, headers: { 'content-type': contentType ?? 'application/json' } };
    case 'json':
      return { body: JSON.stringify(b.value) ?? 'null', headers: { 'content-type': contentType ?? 'application/json' } };
    case 'multipart': {
      const form = new FormData();
      for (const [name, v] of b.fields) {
        if (v === 'png') form.append(name, new File([PNG_BYTES], 'a.png', { type: 'image/png' }));
        else if (v === 'wav') form.append(name, new File([wavBytes()], 'a.wav'));
        else if (v === 'junk') form.append(name, new File([new Uint8Array([1, 2, 3])], 'j.bin', { type: 'image/png' }));
        else form.append(name, v);
      }
      return { body: form, headers: {} };
    }
  }
}

describe('fuzzing every route', () => {
  it('never an unmapped 5xx; always the envelope and x-request-id; x-phi-tier on generation routes; rejections move no money', async () => {
    const gw = gateway();
    const paid = await gw.issueKey({ credits_micro: 50_000_000, rpm: 100_000 });
    const test = await gw.issueKey({ tier: 'test', rpm: 100_000 });
    const poor = await gw.issueKey({ credits_micro: 20_000, rpm: 100_000 });
    const keys: Record<string, string | undefined> = { paid: paid.key, poor: poor.key, test: test.key, admin: ADMIN_TOKEN, none: undefined, garbage: 'phi_not_a_key' };
    const money = async () => {
      const [a, b] = await Promise.all([gw.balance(paid.account), gw.balance(poor.account)]);
      return [a, b].map((v) => ({ balance: v.balance_micro, held: v.held_micro, charges: v.charges }));
    };
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const path = r.route.replace('{x}', r.segment) + r.query;
        const { body, headers } = encodeBody(r.body, r.contentType);
        const h = new Headers(headers);
        const key = keys[r.auth];
        if (key) h.set('authorization', `Bearer ${key}`);
        if (r.phi !== undefined) h.set('x-phi', r.phi);
        if (r.idem !== undefined) {
          try {
            h.set('idempotency-key', r.idem);
          } catch {
            /* not a valid header value: send none */
          }
        }
        if (r.range !== undefined) {
          try {
            h.set('range', r.range);
          } catch {
            /* idem */
          }
        }
        const before = await money();
        const method = r.method;
        const res = await gw.fetch(path, { method, headers: h, body: method === 'GET' || method === 'HEAD' ? undefined : body });
        const status = res.status;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const where = `${method} ${path} → ${status}`;
        expect(res.headers.get('x-request-id'), where).toMatch(/^req_/);
        expect(status, where).not.toBe(500);
        if (/^\/v1\/(images|videos)(\/|$)/.test(new URL(path, 'https://gw.test').pathname)) expect(res.headers.get('x-phi-tier'), where).toBe('non_phi');
        if (status >= 400 && method !== 'HEAD') {
          expect(res.headers.get('content-type'), where).toContain('application/json');
          const err = ((await res.json()) as { error: Record<string, unknown> }).error;
          expect(Object.keys(err).sort(), where).toEqual(['code', 'message', 'param', 'type']);
          if (status >= 500) expect(MAPPED_5XX[status], `${where} ${String(err.code)}`).toContain(err.code);
          expect(await money(), `${where}: a rejected request moved money`).toEqual(before);
        } else {
          await res.body?.cancel();
        }
      }),
      opts(),
    );
    // The run reached past validation: successes and a spread of refusals.
    expect(statuses.get(200) ?? 0, JSON.stringify([...statuses])).toBeGreaterThan(0);
    expect(statuses.size, JSON.stringify([...statuses])).toBeGreaterThanOrEqual(5);
  });
});

describe('parsers never throw anything but a mapped error', () => {
  const cfg = getConfig(gateway().env);

  it('job ids: any string decodes to a job or null', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.string().map((s) => `video_${s}`), fc.base64String().map((s) => `video_${s.replace(/=/g, '')}`)), async (id) => {
        expect(await decodeJob(cfg.SIGNING_SECRET, id, 'clinic-1')).toBeNull();
      }),
      opts(300),
    );
  });

  it('media signatures: anything is a 403, never an exception of another kind', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.option(fc.string(), { nil: undefined }), fc.option(fc.string(), { nil: undefined }), async (key, exp, sig) => {
        const err = await verifyMediaPath(cfg, key, exp, sig).then(() => null, (e: unknown) => e);
        expect(err).toBeInstanceOf(ApiError);
        expect((err as ApiError).status).toBe(403);
      }),
      opts(300),
    );
  });

  it('Range: a satisfiable range lies inside the file', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.tuple(fc.nat(2000), fc.nat(2000)).map(([a, b]) => `bytes=${a}-${b}`), fc.nat(3000).map((n) => `bytes=-${n}`)), fc.integer({ min: 1, max: 1500 }), (header, size) => {
        const r = parseRange(header, size);
        if (r && r !== 'unsatisfiable') {
          expect(r.offset).toBeGreaterThanOrEqual(0);
          expect(r.length).toBeGreaterThan(0);
          expect(r.offset + r.length).toBeLessThanOrEqual(size);
        }
      }),
      opts(500),
    );
  });

  it('image sizes: accepted sizes are within bounds; everything else is a 400 naming size', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.tuple(fc.nat(4000), fc.nat(4000)).map(([w, h]) => `${w}x${h}`)), (size) => {
        try {
          const s = parseImageSize(size);
          for (const d of [s.width, s.height]) expect(d >= 256 && d <= 2048 && d % 16 === 0).toBe(true);
        } catch (e) {
          expect(e).toMatchObject({ status: 400, param: 'size' });
        }
      }),
      opts(500),
    );
  });

  it('base64url: the spelling the runtime would give, and it round-trips', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const reference = btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
        expect(b64url(bytes)).toBe(reference);
        expect(fromB64url(reference)).toEqual(bytes);
      }),
      opts(500),
    );
  });

  it('sniffing and URL rules are total functions', () => {
    const rules = parseHostList('fal.media,*.fal.media');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 32 }), fc.string(), fc.webUrl({ withQueryParameters: true }), (bytes, s, url) => {
        sniff(bytes);
        for (const u of [s, url]) {
          customerUrl(u, { insecure: false, ownHosts: [] });
          allowedOutput(u, rules);
        }
      }),
      opts(500),
    );
  });
});

