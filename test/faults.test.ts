// Failure semantics: every fault mapped, bounded in time, and never charged without delivery. Each test injects its
// fault: a Redis frozen with SIGSTOP, a proxy that drops the store's replies or fails its calls, stand-ins that answer
// with the wrong shape, stall or end short.
import { env } from 'cloudflare:test';
import { describe, expect, inject, it, vi } from 'vitest';
import { getConfig } from '../src/config';
import { authenticate } from '../src/http/auth';
import { getLedger, guarded } from '../src/ledger';
import { DurableLedger } from '../src/ledger/durable/client';
import type { Ledger } from '../src/ledger/types';
import { signMediaPath } from '../src/media/sign';
import { ADMIN_TOKEN, capturedJobs, gateway, requireService, uniq, type Gateway, eventually, sleep } from './helpers';

const json = (gw: Gateway, key: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
  gw.authed(key, path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string; param: string | null } }).error;

const faultyUrl = inject('faultyUpstashUrl');
const freezableUrl = inject('freezableUpstashUrl');
requireService('fault proxy in front of the Upstash stand-in', faultyUrl);
requireService('freezable Redis', freezableUrl);

const fault = (match: string, mode: 'fail' | 'lost-reply' | 'hang', times?: number) =>
  fetch(`${faultyUrl}/__faults`, { method: 'POST', body: JSON.stringify({ match, mode, times }) });
const clear = (match: string) => fetch(`${faultyUrl}/__faults?match=${encodeURIComponent(match)}`, { method: 'DELETE' });
/** Request-body fragments that identify one ledger operation of one account (see src/ledger/upstash.ts). */
const ops = (account: string) => ({
  admit: `"phi:{${account}}:rl:`, // only an admit touches the rate key
  refund: `4,"phi:{${account}}:a","phi:{${account}}:c:`, // REFUND's 4 keys: account, claim, usage, the claim's budget counter
  settle: `"phi:{${account}}:c:video:`,
});

const standinRuns = async (prompt: string) =>
  ((await (await fetch(`${inject('falOrigin')}/__calls`)).json()) as { body: { prompt?: string } | null }[]).filter((c) => c.body?.prompt === prompt).length;


describe('the JOBS queue', () => {
  it('delivers a compensation to the consumer, which applies it once', async () => {
    const ledger = new DurableLedger(env.LEDGER);
    const account = uniq('queue');
    await ledger.credit(account, 100_000, true);
    await ledger.admit({ account, keyId: 'k', rpm: 100, now: Date.now(), charge: { id: 'img_q', amount: 33_000, memo: '' } });
    await env.JOBS!.send({ t: 'refund', account, claim: 'img_q', keep: 0 });
    await env.JOBS!.send({ t: 'refund', account, claim: 'img_q', keep: 0 });
    await eventually(async () => expect(await ledger.account(account, Date.now())).toMatchObject({ balance_micro: 100_000, charges: 0 }));
  });
});

describe('store calls are bounded', () => {
  it('a frozen Redis (SIGSTOP) answers 503 store_unavailable within STORE_TIMEOUT_MS, and what was in flight is reversed', async () => {
    // Only the frozen calls get the short deadline: a frozen Redis never answers, so it fires however busy the CPU
    // is, and no answer that merely arrives late (setup, checks) is cut by it.
    const gw = capturedJobs(freezableUrl);
    const frozen = capturedJobs(freezableUrl, { STORE_TIMEOUT_MS: '400', JOBS: { send: async (m: (typeof gw.sent)[number]) => void gw.sent.push(m) } });
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    expect((await json(gw, key, '/v1/images/generations', { prompt: uniq('warm') })).status).toBe(200);
    // The key record is served from the isolate's cache while Redis is frozen (so the requests reach their charge
    // and hold): cached as of a stated clock a minute ahead, not for the 5 s that a slow run could outlast.
    const cfg = getConfig(frozen.env);
    await authenticate(`Bearer ${key}`, cfg, getLedger(frozen.env, cfg), Date.now() + 60_000);
    const control = inject('redisControlUrl');
    await fetch(`${control}/freeze`);
    try {
      for (const [path, init] of [
        ['/v1/images/generations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: uniq('frozen') }) }],
        ['/v1/account', {}],
        ['/v1/videos', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: uniq('frozen video') }) }],
      ] as const) {
        const t = Date.now();
        const res = await frozen.authed(key, path, init as RequestInit);
        const ms = Date.now() - t;
        // Redis stays frozen until the finally below: without a deadline this would never answer.
        expect(res.status, path).toBe(503);
        expect(await errorOf(res)).toMatchObject({ code: 'store_unavailable' });
        // 400 ms plus overhead; the bound is only generous, so a loaded machine cannot fail it.
        expect(ms, path).toBeLessThan(8_000);
      }
    } finally {
      await fetch(`${control}/thaw`);
    }
    // Redis runs the commands it was sent while frozen (the charge, the hold); their reversals were queued.
    expect(gw.sent.map((m) => m.t).sort()).toEqual(['refund', 'release']);
    await eventually(async () => {
      if (gw.sent.length) await gw.deliver();
      expect(await gw.balance(account)).toMatchObject({ balance_micro: 967_000, held_micro: 0, charges: 1 });
    });
  });

  it('the deadline is the ledger wrapper, so the Durable Object store has it too', async () => {
    const never = new Promise<never>(() => {});
    const hung = new Proxy({}, { get: () => () => never }) as Ledger;
    // The wrapper's own timer, on a fake clock: pending until exactly 150 ms have passed, whatever the CPU does.
    vi.useFakeTimers();
    try {
      const ledger = guarded(hung, 150);
      const settled = (p: Promise<unknown>) => p.then(() => 'answered', (err: unknown) => err);
      const pending = async (p: Promise<unknown>) => Promise.race([p, Promise.resolve('pending')]);
      const account = settled(ledger.account('a', 0));
      const admit = settled(ledger.admit({ account: 'a', keyId: 'k', rpm: 1, now: 0 }));
      await vi.advanceTimersByTimeAsync(149);
      expect(await pending(account)).toBe('pending');
      expect(await pending(admit)).toBe('pending');
      await vi.advanceTimersByTimeAsync(1);
      expect(await account).toMatchObject({ status: 503, code: 'store_unavailable' });
      expect(await admit).toMatchObject({ code: 'store_unavailable' });
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('never charged without delivery, never delivered unbilled', () => {
  it('a refund whose reply is lost is sent again: a failed image costs nothing, once', async () => {
    const gw = capturedJobs(faultyUrl);
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    await fault(ops(account).refund, 'lost-reply', 1);
    const res = await json(gw, key, '/v1/images/generations', { prompt: `${uniq('lost refund')} #fal-500` });
    expect(res.status).toBe(502);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 1_000_000, spent_micro: 0, charges: 0 });
    await clear(ops(account).refund);
  });

  it('a partial result whose refund reply is lost is charged exactly for what came back', async () => {
    const gw = capturedJobs(faultyUrl);
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    await fault(ops(account).refund, 'lost-reply', 1);
    const res = await json(gw, key, '/v1/images/generations', { prompt: `${uniq('lost partial')} #fal-partial`, n: 3 });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-phi-cost-micro')).toBe('33000');
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 967_000, spent_micro: 33_000, charges: 1 });
    await clear(ops(account).refund);
  });

  it('an admit whose every reply is lost: 503, nothing generated, the charge reversed at once and through the queue', async () => {
    const gw = capturedJobs(faultyUrl);
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    // One lost reply is resent inside the request (test/idempotency-recovery.test.ts); here every attempt's is lost.
    await fault(ops(account).admit, 'lost-reply', 3);
    const prompt = uniq('lost admit');
    const res = await json(gw, key, '/v1/images/generations', { prompt });
    expect(res.status).toBe(503);
    expect(await errorOf(res)).toMatchObject({ code: 'store_unavailable' });
    expect(await standinRuns(prompt)).toBe(0);
    // The charge landed (its replies did not); its reversal was tried at once — the store answers again — …
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 1_000_000, spent_micro: 0, charges: 0 });
    // … and queued, durable: delivered, it changes nothing more.
    expect(gw.sent).toEqual([{ t: 'refund', account, claim: expect.stringMatching(/^img_/), keep: 0 }]);
    expect(await gw.deliver()).toBe(0);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 1_000_000, spent_micro: 0, charges: 0 });
    await clear(ops(account).admit);
  });

  it('a long outage after a failed generation: 502 now, the refund lands when the store is back', async () => {
    // 'fail' answers at once: no deadline is needed, and a short one would cut answers a busy CPU merely delays.
    const gw = capturedJobs(faultyUrl);
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    await fault(ops(account).refund, 'fail');
    const res = await json(gw, key, '/v1/images/generations', { prompt: `${uniq('outage')} #fal-500` });
    expect(res.status).toBe(502);
    // The charge made at admit is still there: the store refuses every refund.
    expect((await gw.balance(account)).balance_micro).toBe(967_000);
    // Delivered while the store still refuses: the consumer asks to see it again (with backoff) …
    expect(await gw.deliver()).toBe(1);
    expect((await gw.balance(account)).balance_micro).toBe(967_000);
    // … and when the store is back, it lands — once, however often it is delivered.
    await clear(ops(account).refund);
    expect(await gw.deliver()).toBe(0);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 1_000_000, charges: 0 });
  });

  it('a video settle whose reply is lost is sent again; a long outage keeps the output until the same poll succeeds', async () => {
    const gw = capturedJobs(faultyUrl);
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    const enqueue = async () => ((await (await json(gw, key, '/v1/videos', { prompt: uniq('settle faults'), seconds: 2 })).json()) as { id: string }).id;
    const lost = await enqueue();
    const down = await enqueue();
    await sleep(1_600);
    await fault(ops(account).settle, 'lost-reply', 1);
    const first = (await (await gw.authed(key, `/v1/videos/${lost}`)).json()) as { status: string; cost_micro: number };
    expect(first.status).toBe('completed');
    expect(first.cost_micro).toBe(165_000); // 30 frames at 16 fps × 88000/s
    expect(await gw.balance(account)).toMatchObject({ charges: 1, spent_micro: 165_000 });
    await clear(ops(account).settle);

    await fault(ops(account).settle, 'fail');
    const refused = await gw.authed(key, `/v1/videos/${down}`);
    expect(refused.status).toBe(503);
    expect(await errorOf(refused)).toMatchObject({ code: 'store_unavailable' });
    expect(await gw.balance(account)).toMatchObject({ charges: 1, spent_micro: 165_000 }); // not delivered, not charged
    await clear(ops(account).settle);
    const again = await gw.authed(key, `/v1/videos/${down}`);
    expect(((await again.json()) as { status: string; url: string }).status).toBe('completed');
    expect(await gw.balance(account)).toMatchObject({ charges: 2, spent_micro: 330_000, held_micro: 0 });
  });
});

describe('wrong-shaped provider answers are 502 upstream_error, never 500, and nothing is charged', () => {
  it.each(['null-run', 'images-string', 'images-object', 'image-url-number'])('fal image answer %s', async (shape) => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 100_000 });
    const res = await json(gw, key, '/v1/images/generations', { prompt: `${uniq('shape')} #fal-shape-${shape}` });
    expect(res.status).toBe(502);
    expect(await errorOf(res)).toMatchObject({ code: 'upstream_error' });
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 100_000, charges: 0 });
  });

  // A wrong-shaped COMPLETED result is no 502: the job ends failed, unbilled (test/video-failures.test.ts). A status
  // that cannot be read stays a 502 on the poll until VIDEO_JOB_DEADLINE_SEC ends the job.
  it.each(['null-submit', 'submit-id-number', 'null-status', 'status-unknown'])('fal video answer %s', async (shape) => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const res = await json(gw, key, '/v1/videos', { prompt: `${uniq('shape')} #fal-shape-${shape}`, seconds: 2 });
    let last = res;
    if (res.status === 200) {
      const { id } = (await res.json()) as { id: string };
      await sleep(1_600);
      last = await gw.authed(key, `/v1/videos/${id}`);
    }
    expect(last.status).toBe(502);
    expect(await errorOf(last)).toMatchObject({ code: 'upstream_error' });
    expect((await gw.balance(account)).charges).toBe(0);
  });

  it('a CDN body shorter than its Content-Length (b64_json, and re-hosting) → 502, nothing charged', async () => {
    for (const [gw, format] of [
      [gateway({ MEDIA: undefined }), 'b64_json'],
      [gateway(), 'url'],
    ] as const) {
      const { key, account } = await gw.issueKey({ credits_micro: 100_000 });
      const res = await json(gw, key, '/v1/images/generations', { prompt: `${uniq('short')} #fal-short-file`, response_format: format });
      expect(res.status, format).toBe(502);
      expect(await gw.balance(account)).toMatchObject({ balance_micro: 100_000, charges: 0 });
    }
  });

  it.each(['history-null', 'gifs-object', 'filename-number', 'messages-object', 'outputs-string', 'traversal', 'queue-object'])('ComfyUI answer %s', async (shape) => {
    const gw = gateway({ WORKER_URL: inject('faultyWorkerUrl') });
    const { key } = await gw.issueKey({ tier: 'test', rpm: 1000 });
    // Images read the history; videos also read the queue while the job runs.
    const image = await json(gw, key, '/v1/images/generations', { prompt: `${uniq('shape')} #comfy-shape-${shape}` });
    const res = await json(gw, key, '/v1/videos', { prompt: `${uniq('shape')} #comfy-shape-${shape}`, seconds: 2 });
    const { id } = (await res.json()) as { id: string };
    // Polled until the job has ended (or the poll itself fails), however long a busy machine takes.
    let poll!: Response;
    await eventually(async () => {
      poll = await gw.authed(key, `/v1/videos/${id}`);
      if (poll.status !== 200) return;
      const v = (await poll.clone().json()) as { status: string };
      expect(['queued', 'in_progress'], `${shape}: still ${v.status}`).not.toContain(v.status);
    }, 20_000, 150);
    const statuses = [image.status, poll.status];
    expect(statuses.some((s) => s === 502), `${shape}: ${statuses}`).toBe(true);
    expect(statuses.every((s) => s === 200 || s === 502), `${shape}: ${statuses}`).toBe(true);
  });
});

describe('stalls are timeouts', () => {
  it('a provider body that stalls mid-stream → 504 upstream_timeout, nothing charged', async () => {
    const gw = gateway({ UPSTREAM_TIMEOUT_SECONDS: '1' });
    const { key, account } = await gw.issueKey({ credits_micro: 100_000 });
    const res = await json(gw, key, '/v1/images/generations', { prompt: `${uniq('stall')} #fal-stall` });
    expect(res.status).toBe(504);
    expect(await errorOf(res)).toMatchObject({ code: 'upstream_timeout' });
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 100_000, charges: 0 });
  });

  it('a CDN file that stalls while it is read for b64_json → 504, nothing charged', async () => {
    const gw = gateway({ UPSTREAM_TIMEOUT_SECONDS: '1', MEDIA: undefined });
    const { key, account } = await gw.issueKey({ credits_micro: 100_000 });
    const res = await json(gw, key, '/v1/images/generations', { prompt: `${uniq('stall file')} #fal-stall-file`, response_format: 'b64_json' });
    expect(res.status).toBe(504);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 100_000, charges: 0 });
  });
});

describe('every error is the envelope, everywhere', () => {
  const envelope = async (res: Response) => {
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    const { error } = (await res.json()) as { error: Record<string, unknown> };
    expect(Object.keys(error).sort()).toEqual(['code', 'message', 'param', 'type']);
    return error;
  };

  it('416 on /v1/media (R2 and worker-proxied) and on /content, with content-range', async () => {
    for (const gw of [gateway(), gateway({ MEDIA: undefined })]) {
      const { key } = await gw.issueKey({ tier: 'test', rpm: 1000 });
      const img = await json(gw, key, '/v1/images/generations', { prompt: uniq('range') });
      const { data } = (await img.json()) as { data: { url: string }[] };
      const res = await gw.fetch(data[0]!.url, { headers: { range: 'bytes=999999-' } });
      expect(res.status).toBe(416);
      expect(res.headers.get('content-range')).toMatch(/^bytes \*\/\d+$/);
      expect(await envelope(res)).toMatchObject({ code: 'range_not_satisfiable', param: 'Range' });
    }
    const gw = gateway();
    const { key } = await gw.issueKey({ credits_micro: 1_000_000 });
    const { id } = (await (await json(gw, key, '/v1/videos', { prompt: uniq('range video'), seconds: 2 })).json()) as { id: string };
    await sleep(1_600);
    const content = await gw.authed(key, `/v1/videos/${id}/content`, { headers: { range: 'bytes=999999-' } });
    expect(content.status).toBe(416);
    expect(await envelope(content)).toMatchObject({ code: 'range_not_satisfiable' });
  });

  it('413 from a generation route carries x-phi-tier', async () => {
    const res = await gateway().fetch('/v1/images/generations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(1024 * 1024 + 1) });
    expect(res.status).toBe(413);
    expect(res.headers.get('x-phi-tier')).toBe('non_phi');
    expect(await envelope(res)).toMatchObject({ code: 'payload_too_large' });
  });

  it('a wrong method on a known path → 405 with allow', async () => {
    const gw = gateway();
    const { key } = await gw.issueKey();
    const cases: [string, string, string, string][] = [
      ['DELETE', '/v1/models', '', 'GET, HEAD'],
      ['POST', '/v1/pricing', '', 'GET, HEAD'],
      ['PUT', '/v1/images/generations', key, 'POST'],
      ['GET', '/v1/images/generations', key, 'POST'],
      ['PATCH', '/v1/videos', key, 'GET, HEAD, POST'],
      ['PUT', '/v1/videos/video_x', key, 'DELETE, GET, HEAD'],
      ['POST', '/v1/account', key, 'GET, HEAD'],
      ['PUT', '/admin/keys', ADMIN_TOKEN, 'POST'],
    ];
    for (const [method, path, auth, allow] of cases) {
      const res = await gw.fetch(path, { method, headers: auth ? { authorization: `Bearer ${auth}` } : {} });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow')).toBe(allow);
      expect(await envelope(res)).toMatchObject({ code: 'method_not_allowed' });
    }
    expect((await gw.fetch('/v1/nothing-here', { method: 'PUT' })).status).toBe(404);
  });

  it('a signed media URL for a missing object is a 404 envelope', async () => {
    const gw = gateway();
    const res = await gw.fetch(await signMediaPath(getConfig(gw.env), 'i_missing.png'));
    expect(res.status).toBe(404);
    await envelope(res);
  });
});

describe('rate limits are smooth', () => {
  it('a burst of rpm, then 429 with retry-after of one interval, not the rest of a minute', async () => {
    const gw = gateway();
    const { key } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 2 });
    const res = [];
    const t = Date.now();
    for (let i = 0; i < 3; i++) res.push(await json(gw, key, '/v1/images/generations', { prompt: uniq('gcra') }));
    const took = Math.ceil((Date.now() - t) / 1000);
    expect(res.map((r) => r.status)).toEqual([200, 200, 429]);
    // One interval (30 s at 2 rpm) from the first admit, less however long the three requests took — not 60 s.
    const wait = Number(res[2]!.headers.get('retry-after'));
    expect(wait).toBeGreaterThanOrEqual(30 - took);
    expect(wait).toBeLessThanOrEqual(30);
  });
});

describe('video bills what was delivered, never $0 by accident', () => {
  const run = async (gw: Gateway, marker: string) => {
    const { key, account } = await gw.issueKey({ credits_micro: 2_000_000 });
    const res = await json(gw, key, '/v1/videos', { prompt: `${uniq('duration')} ${marker}`, seconds: 4 });
    const { id } = (await res.json()) as { id: string };
    expect((await gw.balance(account)).held_micro).toBe(363_000); // 66 frames at 16 fps × 88000/s
    await sleep(1_600);
    const video = (await (await gw.authed(key, `/v1/videos/${id}`)).json()) as { status: string; cost_micro: number };
    expect(video.status).toBe('completed');
    expect(await gw.balance(account)).toMatchObject({ held_micro: 0, charges: 1, spent_micro: video.cost_micro });
    return video.cost_micro;
  };

  it.each([undefined, 'bound'])('a fragmented MP4 (mvhd 0) is billed its real length, from mehd or from the fragments (MEDIA %s)', async (media) => {
    const gw = media ? gateway() : gateway({ MEDIA: undefined });
    // Half of the 66 frames arrive: 33 frames at 16 fps = 2063 ms × 88000/s = 181544.
    expect(await Promise.all(['#fal-fragmented #fal-half', '#fal-fragmented-nomehd #fal-half', '#fal-fragmented'].map((m) => run(gw, m)))).toEqual([
      181_544, 181_544, 363_000,
    ]);
  });

  it('billed never exceeds planned; a zero or unreadable duration is no video: failed, nothing charged', async () => {
    const gw = gateway({ MEDIA: undefined });
    expect(await run(gw, '#fal-half')).toBe(181_544);
    for (const marker of ['#fal-zero-duration', '#fal-zero-duration #fal-half']) {
      const { key, account } = await gw.issueKey({ credits_micro: 2_000_000 });
      const { id } = (await (await json(gw, key, '/v1/videos', { prompt: `${uniq('duration')} ${marker}`, seconds: 4 })).json()) as { id: string };
      await sleep(1_600);
      const video = (await (await gw.authed(key, `/v1/videos/${id}`)).json()) as { status: string; error: { code: string } | null };
      expect(video, marker).toMatchObject({ status: 'failed', error: { code: 'no_usable_video' } });
      expect(await gw.balance(account)).toMatchObject({ balance_micro: 2_000_000, held_micro: 0, charges: 0 });
    }
  });
});
