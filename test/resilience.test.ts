// Upstream resilience (issue 20): retries that cannot duplicate work, circuit breakers, configured fallbacks, and
// money that stays exact through all of it. Faults come from the stand-ins on command (markers in the prompt:
// test/standins/fal.mjs, comfy.mjs). Each test runs on an fal endpoint id of its own (the stand-in serves any
// fal-ai/flux/<x>), so its breaker is its own; breaker time is driven through the breaker's clock, never waited out.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { getConfig } from '../src/config';
import { breakerState, clock, falBreakerKey, forgetBreakers } from '../src/providers/breaker';
import { WORKFLOWS } from '../src/providers/workflows';
import { falOrigin, gateway, requireService, standinCalls, TEST_API_KEY, uniq, workerOrigin, type Gateway } from './helpers';

const realNow = clock.now;
afterEach(() => {
  clock.now = realNow;
});

type ErrorBody = { error: { code: string; message: string; param: string | null; type: string } };
type Line = { type: string; request_id: string | null; cost_micro: number; attempts?: number; route?: string };

/** A gateway whose primary image endpoint is a fresh fal-ai/flux/<alias> (its breaker is this test's alone). */
function isolated(overrides: Record<string, unknown> = {}) {
  const alias = uniq('p').toLowerCase();
  const endpoint = `fal-ai/flux/${alias}`;
  const gw = gateway({ FAL_IMAGE_MODEL: endpoint, MEDIA: undefined, ...overrides });
  const breaker = falBreakerKey(getConfig(gw.env).falRunBase, endpoint);
  return Object.assign(gw, { endpoint, alias, breaker });
}

const image = (gw: Gateway, key: string, prompt: string, extra: Record<string, unknown> = {}) =>
  gw.authed(key, '/v1/images/generations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt, ...extra }) });
const falRuns = (prompt: string, endpoint?: string) =>
  standinCalls(falOrigin(), (c) => c.method === 'POST' && c.path.includes('/run/') && (c.body as { prompt?: string } | null)?.prompt === prompt && (!endpoint || c.path.endsWith(`/${endpoint}`)));
const falSubmits = (prompt: string) =>
  standinCalls(falOrigin(), (c) => c.method === 'POST' && c.path.includes('/queue/') && (c.body as { prompt?: string } | null)?.prompt === prompt);
const workerSubmits = (text: string) => standinCalls(workerOrigin(), (c) => c.method === 'POST' && c.path.endsWith('/prompt') && JSON.stringify(c.body).includes(text));
const attemptsOf = (res: Response) => Number(res.headers.get('x-phi-attempts'));
const usage = async (gw: Gateway, key: string) => ((await (await gw.authed(key, '/v1/usage')).json()) as { data: Line[] }).data;

/** Waits until `check` holds (state, not time), failing after `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('sync images: retried only when nothing was produced', () => {
  it.each([
    ['refuse', 2],
    ['503', 2],
    ['502', 1],
    ['504', 1],
  ])('fal %s, %i time(s), then served: one charge, every attempt counted (header, usage record)', async (mode, n) => {
    const gw = isolated();
    const { key, account } = await gw.issueKey({ credits_micro: 100_000 });
    const prompt = `${uniq('retry')} #fal-first-${n}-${mode}`;
    const res = await image(gw, key, prompt);
    expect(res.status).toBe(200);
    expect(attemptsOf(res)).toBe(n + 1);
    expect(res.headers.get('x-phi-route')).toBe(gw.endpoint);
    expect(res.headers.get('x-phi-cost-micro')).toBe('33000');
    expect(await falRuns(prompt)).toHaveLength(n + 1);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 67_000, charges: 1, spent_micro: 33_000 });
    const line = (await usage(gw, key)).find((l) => l.request_id === res.headers.get('x-request-id'));
    expect(line).toMatchObject({ type: 'image', cost_micro: 33_000, attempts: n + 1 });
    expect(line!.route).toBeUndefined();
  });

  it('a 429 waits at least its retry-after before the next attempt', async () => {
    const gw = isolated();
    const { key } = await gw.issueKey({ credits_micro: 100_000 });
    const prompt = `${uniq('429')} #fal-first-1-429`;
    const res = await image(gw, key, prompt);
    expect(res.status).toBe(200);
    expect(attemptsOf(res)).toBe(2);
    const [first, second] = await falRuns(prompt);
    // The stand-in's own timestamps: a lower bound (retry-after: 1), which slowness can only make larger.
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1_000);
  });

  it('a warm first-attempt success: x-phi-attempts 1, x-phi-route the primary, no note on its usage record', async () => {
    const gw = isolated();
    const { key } = await gw.issueKey({ credits_micro: 100_000 });
    const res = await image(gw, key, uniq('warm'));
    expect(res.status).toBe(200);
    expect(attemptsOf(res)).toBe(1);
    expect(res.headers.get('x-phi-route')).toBe(gw.endpoint);
    const [line] = await usage(gw, key);
    expect(line).toMatchObject({ type: 'image', cost_micro: 33_000 });
    expect(line).not.toHaveProperty('attempts');
  });

  it.each([
    ['drop', 502, 'upstream_error'],
    ['midbody', 502, 'upstream_error'],
  ])('a lost answer after fal may have worked (%s) is not repeated: %i, nothing charged', async (mode, status, code) => {
    const gw = isolated();
    const { key, account } = await gw.issueKey({ credits_micro: 100_000 });
    const prompt = `${uniq('lost')} #fal-first-1-${mode}`;
    const res = await image(gw, key, prompt);
    expect(res.status).toBe(status);
    expect(((await res.json()) as ErrorBody).error.code).toBe(code);
    expect(attemptsOf(res)).toBe(1);
    expect(await falRuns(prompt)).toHaveLength(1);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 100_000, charges: 0, held_micro: 0 });
  });

  it.each([
    ['#fal-422', 400, 'invalid_request', 1],
    ['#fal-500', 502, 'upstream_error', 1],
    ['#fal-503', 502, 'upstream_error', 3],
    ['#fal-timeout', 504, 'upstream_timeout', 3],
  ])('%s → %i %s after %i attempt(s), x-phi-attempts on the error, nothing charged', async (marker, status, code, attempts) => {
    const gw = isolated();
    const { key, account } = await gw.issueKey({ credits_micro: 100_000 });
    const prompt = `${uniq('final')} ${marker}`;
    const res = await image(gw, key, prompt);
    expect(res.status).toBe(status);
    expect(((await res.json()) as ErrorBody).error.code).toBe(code);
    expect(attemptsOf(res)).toBe(attempts);
    expect(await falRuns(prompt)).toHaveLength(attempts);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 100_000, charges: 0 });
  });

  it('UPSTREAM_MAX_ATTEMPTS bounds the attempts; UPSTREAM_DEADLINE_MS bounds them in time', async () => {
    const two = isolated({ UPSTREAM_MAX_ATTEMPTS: '2' });
    const { key } = await two.issueKey({ credits_micro: 100_000 });
    const prompt = `${uniq('two')} #fal-503`;
    expect(attemptsOf(await image(two, key, prompt))).toBe(2);
    expect(await falRuns(prompt)).toHaveLength(2);
    // Ten attempts allowed, 700 ms for all of them: the backoff (200, 400, 800 … ms) leaves room for two or three.
    const short = isolated({ UPSTREAM_MAX_ATTEMPTS: '10', UPSTREAM_DEADLINE_MS: '700' });
    const k2 = (await short.issueKey({ credits_micro: 100_000 })).key;
    const p2 = `${uniq('deadline')} #fal-503`;
    const res = await image(short, k2, p2);
    expect(res.status).toBe(502);
    const calls = await falRuns(p2);
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(calls.length).toBeLessThan(5);
    expect(attemptsOf(res)).toBe(calls.length);
  });

  it('fal gets the time that remains as X-Fal-Request-Timeout, and its start-deadline 504 is the answer', async () => {
    // 3 s: what remains when the call is made is well above 0.1 s however long a busy machine takes to get there.
    const gw = isolated({ UPSTREAM_DEADLINE_MS: '3000' });
    const { key, account } = await gw.issueKey({ credits_micro: 100_000 });
    const prompt = `${uniq('no runner')} #fal-wait-20000`;
    const res = await image(gw, key, prompt);
    expect(res.status).toBe(504);
    const calls = await falRuns(prompt);
    expect(calls).toHaveLength(1); // nothing left of the deadline for another attempt
    const sent = Number(calls[0]!.headers['x-fal-request-timeout']);
    expect(sent).toBeGreaterThan(0.1);
    expect(sent).toBeLessThanOrEqual(3);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 100_000, charges: 0 });
    // With time enough, the same wait is served.
    const ok = await image(isolated(), key, `${uniq('runner')} #fal-wait-300`);
    expect(ok.status).toBe(200);
  });
});

describe('the worker (free tier)', () => {
  const free = (overrides: Record<string, unknown> = {}) => gateway({ MEDIA: undefined, TEST_KEY_RPM: '1000', ...overrides });

  it('a refused connection, a busy 503: retried and served, $0', async () => {
    const gw = free();
    for (const mode of ['refuse', '503']) {
      const prompt = `${uniq('worker')} #comfy-first-1-${mode}`;
      const res = await image(gw, TEST_API_KEY, prompt);
      expect(res.status, mode).toBe(200);
      expect(attemptsOf(res), mode).toBe(2);
      expect(res.headers.get('x-phi-route')).toBe('krea-2');
      expect(res.headers.get('x-phi-cost-micro')).toBe('0');
      expect(await workerSubmits(prompt), mode).toHaveLength(2);
    }
  });

  it('a submit whose answer was lost is not queued twice: the gateway finds its own prompt id on the worker', async () => {
    const gw = free();
    const prompt = `${uniq('lost submit')} #comfy-first-1-drop`;
    const res = await image(gw, TEST_API_KEY, prompt);
    expect(res.status).toBe(200);
    expect(attemptsOf(res)).toBe(2);
    expect(await workerSubmits(prompt)).toHaveLength(1);
  });

  it('back-pressure is a 503 with retry-after, never a 502: a busy worker after its retries, and a full queue (WORKER_MAX_QUEUE)', async () => {
    const busy = `${uniq('busy')} #comfy-first-9-503`;
    const res = await image(free(), TEST_API_KEY, busy);
    expect(res.status).toBe(503);
    expect(((await res.json()) as ErrorBody).error.code).toBe('provider_unavailable');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(attemptsOf(res)).toBe(3);

    // Three prompts that never finish, straight onto the worker: its queue holds at least three.
    const ids = Array.from({ length: 3 }, () => crypto.randomUUID());
    const graph = WORKFLOWS['krea-2']!({ prompt: `${uniq('filler')} #comfy-hang`, seed: 1, width: 256, height: 256 });
    const headers = { authorization: 'Bearer test-worker-token', 'content-type': 'application/json' };
    for (const id of ids) expect((await fetch(`${workerOrigin()}/prompt`, { method: 'POST', headers, body: JSON.stringify({ prompt: graph, prompt_id: id }) })).status).toBe(200);
    try {
      const prompt = uniq('full queue');
      const full = await image(free({ WORKER_MAX_QUEUE: '3' }), TEST_API_KEY, prompt);
      expect(full.status).toBe(503);
      expect(((await full.json()) as ErrorBody).error.code).toBe('provider_unavailable');
      expect(full.headers.get('retry-after')).toBe('10');
      expect(await workerSubmits(prompt)).toHaveLength(0);
      expect((await image(free({ WORKER_MAX_QUEUE: '500' }), TEST_API_KEY, uniq('room'))).status).toBe(200);
    } finally {
      for (const id of ids) await fetch(`${workerOrigin()}/interrupt`, { method: 'POST', headers, body: JSON.stringify({ prompt_id: id }) });
    }
  });
});

describe('the fal queue submit (video) is never repeated', () => {
  it.each(['drop', 'refuse', '503'])('a submit that failed (%s) is sent once: mapped 5xx, the hold released', async (mode) => {
    const gw = gateway({ MEDIA: undefined });
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const prompt = `${uniq('submit')} #fal-first-1-${mode}`;
    const res = await gw.authed(key, '/v1/videos', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt, seconds: 2 }) });
    expect(res.status).toBe(502);
    expect(((await res.json()) as ErrorBody).error.code).toBe('upstream_error');
    expect(await falSubmits(prompt)).toHaveLength(1);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 1_000_000, held_micro: 0, charges: 0 });
  });
});

describe('circuit breaker', () => {
  // A cool-down no test outlasts in real time (the breaker's clock is moved past it instead): a slow request never
  // finds the breaker half-open early.
  const settings = { BREAKER_THRESHOLD: '2', BREAKER_COOLDOWN_MS: '600000', UPSTREAM_MAX_ATTEMPTS: '2' };
  /** Moves the breakers' clock `ms` ahead of real time. */
  const later = (ms: number) => {
    clock.now = () => realNow() + ms;
  };

  it('opens after failed requests (not after cured ones), fails fast without calling, probes once, closes', async () => {
    const gw = isolated(settings);
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    // Failures a retry cured do not count.
    for (let i = 0; i < 3; i++) expect((await image(gw, key, `${uniq('cured')} #fal-first-1-503`)).status).toBe(200);
    expect(breakerState(gw.breaker)).toMatchObject({ state: 'closed', failures: 0 });
    // Two requests that fail after their retries open it.
    for (let i = 0; i < 2; i++) expect((await image(gw, key, `${uniq('down')} #fal-503`)).status).toBe(502);
    expect(breakerState(gw.breaker).state).toBe('open');
    const refused = await image(gw, key, uniq('refused'));
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as ErrorBody).error.code).toBe('provider_unavailable');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(600);
    expect(attemptsOf(refused)).toBe(0);
    const before = (await standinCalls(falOrigin(), (c) => c.path.endsWith(`/${gw.endpoint}`))).length;
    expect(before).toBe(3 * 2 + 2 * 2); // cured: 2 calls each; failed: 2 each; refused: none
    expect(await gw.balance(account)).toMatchObject({ charges: 3, spent_micro: 99_000 });

    // The cool-down passes (the breaker's clock): one probe goes through; meanwhile others are still refused.
    later(600_001);
    expect(breakerState(gw.breaker).state).toBe('half_open');
    // The probe is held upstream for 5 s: time enough for the request below to meet it however slow the machine.
    const probePrompt = `${uniq('probe')} #fal-wait-5000`;
    const probe = image(gw, key, probePrompt);
    await until(() => breakerState(gw.breaker).probing);
    const duringPrompt = uniq('during probe');
    const during = await image(gw, key, duringPrompt);
    expect(during.status).toBe(503);
    expect(await falRuns(duringPrompt)).toHaveLength(0);
    const answered = await probe;
    expect(answered.status).toBe(200);
    expect(breakerState(gw.breaker)).toMatchObject({ state: 'closed', failures: 0, probing: false });
    expect((await image(gw, key, uniq('closed again'))).status).toBe(200);
  });

  it('a failed probe opens it again for another cool-down', async () => {
    const gw = isolated(settings);
    const { key } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    for (let i = 0; i < 2; i++) await image(gw, key, `${uniq('down')} #fal-503`);
    expect(breakerState(gw.breaker).state).toBe('open');
    later(600_001);
    const probe = await image(gw, key, `${uniq('probe fails')} #fal-503`);
    expect(probe.status).toBe(502);
    const s = breakerState(gw.breaker);
    expect(s.state).toBe('open');
    expect(s.openUntil).toBeGreaterThan(clock.now() + 500_000);
    expect((await image(gw, key, uniq('still open'))).status).toBe(503);
  });

  it('a 4xx about the request says the upstream is up: it resets the count', async () => {
    const gw = isolated(settings);
    const { key } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    await image(gw, key, `${uniq('down')} #fal-503`);
    expect(breakerState(gw.breaker).failures).toBe(1);
    expect((await image(gw, key, `${uniq('bad')} #fal-422`)).status).toBe(400);
    expect(breakerState(gw.breaker).failures).toBe(0);
  });

  it('another isolate learns an open breaker from the colo cache (written on the transition, read in the background)', async () => {
    const gw = isolated(settings);
    const { key } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    for (let i = 0; i < 2; i++) await image(gw, key, `${uniq('down')} #fal-503`);
    expect(breakerState(gw.breaker).state).toBe('open');
    forgetBreakers(); // a fresh isolate: no memory of the failures
    expect(breakerState(gw.breaker).state).toBe('closed');
    // Its first request goes upstream and starts the background read; the shared entry then opens it here too.
    const first = uniq('first here');
    expect((await image(gw, key, first)).status).toBe(200);
    await until(() => breakerState(gw.breaker).state === 'open');
    const next = uniq('next here');
    expect((await image(gw, key, next)).status).toBe(503);
    expect(await falRuns(next)).toHaveLength(0);
  });
});

describe('fallbacks (FALLBACKS)', () => {
  const withFallback = (base: number, extra: Record<string, unknown> = {}) => {
    const fallback = `fal-ai/flux/${uniq('f').toLowerCase()}`;
    const gw = isolated({ FALLBACKS: JSON.stringify({ 'krea-2': [{ endpoint: fallback, base_micro: base }] }), ...extra });
    return Object.assign(gw, { fallback });
  };

  it('a primary failing retryably falls back: x-phi-route names the fallback, its rate card is what is charged', async () => {
    const gw = withFallback(25_000);
    const { key, account } = await gw.issueKey({ credits_micro: 100_000 });
    const prompt = `${uniq('fallback')} #fal-down-${gw.alias}`;
    const res = await image(gw, key, prompt);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-phi-route')).toBe(gw.fallback);
    expect(res.headers.get('x-phi-cost-micro')).toBe('27500'); // 25000 + 10 %
    expect(attemptsOf(res)).toBe(4); // three on the primary, one on the fallback
    expect(await falRuns(prompt, gw.endpoint)).toHaveLength(3);
    expect(await falRuns(prompt, gw.fallback)).toHaveLength(1);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 72_500, spent_micro: 27_500, charges: 1 });
    const lines = (await usage(gw, key)).filter((l) => l.request_id === res.headers.get('x-request-id'));
    expect(lines.reduce((n, l) => n + l.cost_micro, 0)).toBe(27_500);
    expect(lines.find((l) => l.type === 'image')).toMatchObject({ attempts: 4, route: gw.fallback });
  });

  it('a dearer fallback: the admit holds the dearest price, a primary success keeps only its own', async () => {
    const gw = withFallback(40_000);
    const poor = await gw.issueKey({ credits_micro: 40_000 });
    expect((await image(gw, poor.key, uniq('too poor for the worst case'))).status).toBe(402);
    const { key, account } = await gw.issueKey({ credits_micro: 100_000 });
    const res = await image(gw, key, uniq('primary ok'));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-phi-route')).toBe(gw.endpoint);
    expect(res.headers.get('x-phi-cost-micro')).toBe('33000');
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 67_000, spent_micro: 33_000, charges: 1 });
    const down = await image(gw, key, `${uniq('dear')} #fal-down-${gw.alias}`);
    expect(down.headers.get('x-phi-cost-micro')).toBe('44000');
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 23_000, spent_micro: 77_000, charges: 2 });
  });

  it('never on a 4xx about the request, a lost answer or a timeout', async () => {
    const gw = withFallback(25_000);
    const { key, account } = await gw.issueKey({ credits_micro: 100_000 });
    for (const [marker, status] of [['#fal-422', 400], ['#fal-first-1-drop', 502], ['#fal-500', 502]] as const) {
      const prompt = `${uniq('no fallback')} ${marker}`;
      expect((await image(gw, key, prompt)).status, marker).toBe(status);
      expect(await falRuns(prompt, gw.fallback), marker).toHaveLength(0);
    }
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 100_000, charges: 0 });
  });

  it('an open primary breaker goes straight to the fallback', async () => {
    const gw = withFallback(25_000, { BREAKER_THRESHOLD: '1', UPSTREAM_MAX_ATTEMPTS: '1' });
    const { key } = await gw.issueKey({ credits_micro: 100_000 });
    expect((await image(gw, key, `${uniq('opens')} #fal-down-${gw.alias}`)).headers.get('x-phi-route')).toBe(gw.fallback);
    expect(breakerState(gw.breaker).state).toBe('open');
    const prompt = uniq('straight');
    const res = await image(gw, key, prompt);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-phi-route')).toBe(gw.fallback);
    expect(attemptsOf(res)).toBe(1);
    expect(await falRuns(prompt, gw.endpoint)).toHaveLength(0);
  });

  it('never across tiers: the test key stays on the worker, a paid key never reaches it', async () => {
    const gw = withFallback(25_000, { TEST_KEY_RPM: '1000' });
    const prompt = uniq('free stays free');
    const free = await image(gw, TEST_API_KEY, prompt);
    expect(free.status).toBe(200);
    expect(free.headers.get('x-phi-route')).toBe('krea-2');
    expect(await falRuns(prompt)).toHaveLength(0);
    const { key } = await gw.issueKey({ credits_micro: 100_000 });
    const paid = `${uniq('paid stays paid')} #fal-503`;
    expect((await image(gw, key, paid)).status).toBe(502);
    expect(await workerSubmits(paid)).toHaveLength(0);
  });

  it('/v1/pricing lists each fallback at its own price; a FALLBACKS that is not for an image model is a config error', async () => {
    const gw = withFallback(25_000);
    const body = (await (await gw.fetch('/v1/pricing')).json()) as { data: { model: string; fallbacks?: unknown }[] };
    expect(body.data.find((m) => m.model === 'krea-2')!.fallbacks).toEqual([{ endpoint: gw.fallback, base_price_micro: 25_000, price_micro: 27_500 }]);
    expect(body.data.find((m) => m.model === 'wan')).not.toHaveProperty('fallbacks');
    for (const bad of ['{"wan":[{"endpoint":"fal-ai/x/y","base_micro":1}]}', '{"krea-2":[{"endpoint":"not an id","base_micro":1}]}', '{"krea-2":[{"endpoint":"fal-ai/a/b"}]}', '[1]']) {
      const res = await gateway({ FALLBACKS: bad }).fetch('/v1/pricing');
      expect(res.status, bad).toBe(500);
      expect(((await res.json()) as ErrorBody).error.code).toBe('config_invalid');
    }
  });
});

describe('money under retries: 50 concurrent paid images, 30 % of fal calls failing at random', () => {
  const stores: [string, () => Record<string, unknown> | null][] = [
    ['Durable Object', () => ({})],
    ['Upstash', () => (requireService('upstash stand-in', inject('upstashUrl')) ? { UPSTASH_REDIS_REST_URL: inject('upstashUrl'), UPSTASH_REDIS_REST_TOKEN: inject('upstashToken') } : null)],
  ];

  it.each(stores)('%s: every success charged once, every failure zero, balance and usage exact', async (_name, store) => {
    const env = store();
    if (!env) return;
    // Two attempts per endpoint, so that some requests fail for good; a breaker that never opens here.
    const gw = isolated({ ...env, UPSTREAM_MAX_ATTEMPTS: '2', BREAKER_THRESHOLD: '1000' });
    const credits = 50 * 33_000 + 7;
    const { key, account } = await gw.issueKey({ credits_micro: credits, rpm: 10_000 });
    const results = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const res = await image(gw, key, `${uniq('flaky')} #fal-flaky-30`);
        await res.body?.cancel();
        return { status: res.status, cost: Number(res.headers.get('x-phi-cost-micro') ?? 0), attempts: attemptsOf(res), id: res.headers.get('x-request-id')! };
      }),
    );
    const ok = results.filter((r) => r.status === 200);
    const failed = results.filter((r) => r.status !== 200);
    for (const r of ok) expect(r.cost).toBe(33_000);
    for (const r of failed) {
      expect([502, 503]).toContain(r.status);
      expect(r.cost).toBe(0);
      expect(r.attempts).toBeLessThanOrEqual(2);
    }
    expect(results.some((r) => r.attempts > 1)).toBe(true); // the faults did happen
    const spent = results.reduce((n, r) => n + r.cost, 0);
    expect(await gw.balance(account)).toMatchObject({ balance_micro: credits - spent, spent_micro: spent, held_micro: 0, charges: ok.length });
    const lines = await usage(gw, key);
    expect(lines.reduce((n, l) => n + l.cost_micro, 0)).toBe(spent);
    for (const r of results) {
      const mine = lines.filter((l) => l.request_id === r.id);
      expect(mine.reduce((n, l) => n + l.cost_micro, 0), r.id).toBe(r.cost);
      const charge = mine.find((l) => l.type === 'image')!;
      expect(charge.attempts ?? 1, r.id).toBe(r.attempts);
    }
  });
});
