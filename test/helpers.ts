// Test helpers running inside workerd: call the real worker with a chosen env, issue keys, build an OpenAI client.
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import OpenAI from 'openai';
import { inject } from 'vitest';
import worker from '../src/index';
import type { Env } from '../src/env';

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
      return new OpenAI({ apiKey, baseURL: `${BASE}/v1`, fetch: call as typeof fetch, maxRetries: opts.maxRetries ?? 2 });
    },
    authed(key: string, path: string, init: RequestInit = {}) {
      return call(path, { ...init, headers: { authorization: `Bearer ${key}`, ...init.headers } });
    },
  };
}

export const uniq = (p = 'a') => `${p}-${crypto.randomUUID().slice(0, 8)}`;

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
