// Test helpers running inside workerd: call the real worker with a chosen env, issue keys, build an OpenAI client.
import { createExecutionContext, createMessageBatch, env, getQueueResult, waitOnExecutionContext } from 'cloudflare:test';
import OpenAI from 'openai';
import { inject } from 'vitest';
import worker from '../src/index';
import type { Env } from '../src/env';
import { consume } from '../src/jobs/consumer';
import type { JobMessage } from '../src/jobs/queue';

export const ADMIN_TOKEN = 'test-admin-token';
export const TEST_API_KEY = 'phi_test_shared_key';
export const BASE = 'https://gw.test';

export type Gateway = ReturnType<typeof gateway>;

/** A gateway bound to `env` plus overrides (a new env object is a freshly parsed config). */
export function gateway(overrides: Partial<Record<keyof Env, unknown>> = {}) {
  const e = { ...(env as unknown as Env), ...overrides } as Env;
  const call = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const req = input instanceof Request ? input : new Request(new URL(String(input), BASE), init);
    const ctx = createExecutionContext();
    const res = await worker.fetch(req as Parameters<typeof worker.fetch>[0], e, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  };
  const admin = (path: string, init: RequestInit = {}) =>
    call(path, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', ...init.headers } });
  return {
    env: e,
    fetch: call,
    admin,
    async issueKey(body: { tier?: 'paid' | 'test'; account?: string; credits_micro?: number; rpm?: number } = {}) {
      const res = await admin('/admin/keys', { method: 'POST', body: JSON.stringify({ tier: 'paid', ...body }) });
      if (res.status !== 201) throw new Error(`issue key failed: ${res.status} ${await res.text()}`);
      return (await res.json()) as { key: string; key_id: string; account: string; tier: string; rpm: number };
    },
    async balance(account: string) {
      const res = await admin(`/admin/accounts/${account}`);
      return (await res.json()) as { balance_micro: number; held_micro: number; available_micro: number; spent_micro: number; charges: number; usage: { type: string; model: string | null; units: number | null; cost_micro: number; reason: string | null }[] };
    },
    openai(apiKey: string, opts: { maxRetries?: number } = {}) {
      return new OpenAI({ apiKey, baseURL: `${BASE}/v1`, fetch: sdkFetch(call), maxRetries: opts.maxRetries ?? 2 });
    },
    authed(key: string, path: string, init: RequestInit = {}) {
      return call(path, { ...init, headers: { authorization: `Bearer ${key}`, ...init.headers } });
    },
  };
}

/**
 * The SDK's fetch: the gateway, and nothing else. Before its first multipart request the SDK probes a new fetch
 * function for FormData support: it fetches `data:,` and reads `new Response(new FormData())` as text — which
 * workerd warns about (text() on a multipart body), once per client. Refusing `data:,` ends the probe early (the SDK
 * then takes FormData as supported, which it is in workerd).
 */
function sdkFetch(call: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>): typeof fetch {
  return ((input: RequestInfo | URL, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    return url.startsWith(`${BASE}/`) ? call(input, init) : Promise.reject(new TypeError(`the test SDK client only reaches the gateway, not ${url.slice(0, 16)}`));
  }) as typeof fetch;
}

export const uniq = (p = 'a') => `${p}-${crypto.randomUUID().slice(0, 8)}`;

/**
 * A gateway on the Upstash-REST store at `url` (e.g. the fault proxy's) whose JOBS queue is captured: the test
 * runtime's queue consumer is bound to the default environment (the Durable Object ledger), so the test hands the
 * captured messages to the real consumer itself, with this gateway's environment — as the queue would, retries
 * included. STORE_TIMEOUT_MS is generous unless the test sets it: a test that needs the deadline to fire sets a short
 * one and makes the store never answer (a frozen Redis, a 'hang' fault); no answer a busy CPU delays may hit it.
 */
export function capturedJobs(url: string, overrides: Partial<Record<keyof Env, unknown>> = {}) {
  const sent: JobMessage[] = [];
  const JOBS = { send: async (m: JobMessage) => void sent.push(m) };
  const gw = gateway({ UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: inject('upstashToken'), MEDIA: undefined, STORE_TIMEOUT_MS: '10000', JOBS, ...overrides });
  /**
   * Delivers what is queued so far once — watcher looks and webhooks aside (they follow a job on its own clock) —
   * and keeps what the consumer asked to see again; returns how many that was.
   */
  const deliver = async () => {
    const take = sent.filter((m) => m.t !== 'watch' && m.t !== 'webhook');
    for (const m of take) sent.splice(sent.indexOf(m), 1);
    const batch = createMessageBatch<JobMessage>('phi-gateway-jobs', take.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })));
    const ctx = createExecutionContext();
    await consume(batch, gw.env);
    await waitOnExecutionContext(ctx);
    const result = await getQueueResult(batch, ctx);
    for (const r of result.retryMessages) sent.push(batch.messages.find((m) => m.id === r.msgId)!.body);
    return result.retryMessages.length;
  };
  return Object.assign(gw, { sent, deliver });
}

/** Requests a stand-in recorded (fal or ComfyUI), optionally filtered. */
export async function standinCalls(origin: string, filter: (c: StandinCall) => boolean = () => true): Promise<StandinCall[]> {
  const res = await fetch(`${new URL(origin).origin}/__calls`);
  return ((await res.json()) as StandinCall[]).filter(filter);
}

export interface StandinCall {
  method: string;
  path: string;
  route?: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
  at: number;
}

export const falOrigin = () => inject('falOrigin');
export const workerOrigin = () => inject('workerUrl');

/** Under CI a missing service fails the suite; locally it may be skipped with a reason. */
export function requireService(name: string, value: string): boolean {
  if (value) return true;
  if (inject('ci')) throw new Error(`${name} is not available under CI`);
  return false;
}

/** A real 2×2 PNG. */
export const PNG_BYTES = Uint8Array.from(atob('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEklEQVR4nGM4kWJ0IsWIAUIBACiuBXmimEdRAAAAAElFTkSuQmCC'), (c) => c.charCodeAt(0));

/** A real PCM WAV file of `ms` milliseconds of silence (16 kHz mono 16-bit). */
export function wavBytes(ms = 100): Uint8Array {
  const samples = Math.round(16 * ms);
  const b = new Uint8Array(44 + samples * 2);
  const v = new DataView(b.buffer);
  const text = (at: number, s: string) => [...s].forEach((ch, i) => (b[at + i] = ch.charCodeAt(0)));
  text(0, 'RIFF');
  v.setUint32(4, 36 + samples * 2, true);
  text(8, 'WAVEfmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true);
  v.setUint16(22, 1, true);
  v.setUint32(24, 16_000, true);
  v.setUint32(28, 32_000, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  text(36, 'data');
  v.setUint32(40, samples * 2, true);
  return b;
}

/** A body as UTF-8 text: `text()` makes workerd warn about a type it does not count as text (the audit's NDJSON). */
export { bodyText } from '../src/http/validate';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries `check` until it passes (state, not time, is what is awaited), failing with its last error after `ms`. */
export async function eventually(check: () => Promise<void>, ms = 20_000, every = 200): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > until) throw err;
      await sleep(every);
    }
  }
}
