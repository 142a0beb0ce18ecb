// What one admit costs on Upstash (issue 23): a warm paid image and a finished-video poll each send exactly one HTTP
// request to the REST API before the answer, holding one command (EVALSHA of the admit script, no EVAL, no pipeline),
// and its body stays under a stated byte bound. Against the real redis-server behind the local Upstash-REST server.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import worker from '../src/index';
import { ADMIT } from '../src/ledger/upstash/admit';
import { BASE, eventually, gateway, requireService, uniq, type Gateway } from './helpers';

// Measured here: a paid image's admit body 872 B, one that also carries a batch of 8 outcome samples 1,256 B, a
// finished-video poll's 572 B (the Lua itself is not sent: EVALSHA names it by its 40-hex SHA-1). Bounds ≈ 25 %
// above, so a change that makes the admit heavier shows here.
const IMAGE_ADMIT_MAX_BYTES = 1_090;
const IMAGE_ADMIT_WITH_SAMPLES_MAX_BYTES = 1_570;
const POLL_ADMIT_MAX_BYTES = 715;

const enc = new TextEncoder();

async function sha1Hex(text: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-1', enc.encode(text)));
  return [...d].map((b) => b.toString(16).padStart(2, '0')).join('');
}

interface Sent {
  path: string;
  body: string;
}

afterEach(() => vi.restoreAllMocks());

/**
 * Requests to Upstash while `gw` answers `path`: `before`, those the answer waited on, and `after`, its audit event.
 * An audit write is held back until the response is in hand, so the answer provably does not wait on it (if it did,
 * the request would never answer and the test would time out).
 */
async function sentFor(gw: Gateway, url: string, key: string, path: string, init: RequestInit = {}): Promise<{ status: number; before: Sent[]; after: Sent[] }> {
  const before: Sent[] = [];
  const after: Sent[] = [];
  let answered = () => {};
  const gate = new Promise<void>((r) => (answered = r));
  const real = globalThis.fetch;
  vi.spyOn(globalThis, 'fetch').mockImplementation(((input: RequestInfo | URL, opts?: RequestInit) => {
    const target = String(input instanceof Request ? input.url : input);
    if (!target.startsWith(url)) return real(input, opts);
    const s = { path: target.slice(url.length), body: typeof opts?.body === 'string' ? opts.body : '<non-string body>' };
    if (s.path === '/multi-exec' && s.body.includes('}:audit"')) {
      after.push(s);
      return gate.then(() => real(input, opts));
    }
    before.push(s);
    return real(input, opts);
  }) as typeof fetch);
  const ctx = createExecutionContext();
  const req = new Request(new URL(path, BASE), { ...init, headers: { authorization: `Bearer ${key}`, ...init.headers } });
  const res = await worker.fetch(req as Parameters<typeof worker.fetch>[0], gw.env, ctx);
  await res.arrayBuffer();
  const waited = [...before];
  answered();
  await waitOnExecutionContext(ctx);
  vi.restoreAllMocks();
  // Nothing but the audit event may follow the answer.
  expect(before).toEqual(waited);
  return { status: res.status, before, after };
}

/** The one command a request carried: EVALSHA of the admit script, to the single-command endpoint. */
function admitCommand(s: Sent, sha: string): unknown[] {
  expect(s.path).toBe('');
  const cmd = JSON.parse(s.body) as unknown[];
  expect(cmd[0]).toBe('evalsha');
  expect(cmd[1]).toBe(sha);
  // One command, not a list of them: every element is a scalar argument.
  expect(cmd.every((a) => typeof a === 'string' || typeof a === 'number')).toBe(true);
  expect(cmd[2]).toBe(14); // the admit's KEYS count
  return cmd;
}

const bytes = (s: Sent) => enc.encode(s.body).length;

describe('Upstash: what one admit sends', () => {
  const url = inject('upstashUrl');
  const upstash = () => ({ UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: inject('upstashToken') });

  it('a warm paid image: one request, one EVALSHA of the admit script, under the byte bound (with or without piggybacked samples)', async () => {
    if (!requireService('upstash stand-in', url)) return;
    const sha = await sha1Hex(ADMIT);
    const gw = gateway({ ...upstash(), MEDIA: undefined });
    const { key } = await gw.issueKey({ credits_micro: 10_000_000, rpm: 1000 });
    const image = () => sentFor(gw, url, key, '/v1/images/generations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: uniq('cost') }) });
    // Warm-up: caches the key record and loads the admit script (its first EVALSHA is followed by an EVAL).
    expect((await image()).status).toBe(200);
    const sizes: { bytes: number; samples: boolean }[] = [];
    // Nine more: outcome samples wait in the isolate until eight are pending, then ride on one admit.
    for (let i = 0; i < 9; i++) {
      const { status, before, after } = await image();
      expect(status).toBe(200);
      expect(before).toHaveLength(1);
      expect(after).toEqual([]);
      const cmd = admitCommand(before[0]!, sha);
      sizes.push({ bytes: bytes(before[0]!), samples: cmd.at(-1) !== '' });
    }
    const plain = sizes.filter((s) => !s.samples).map((s) => s.bytes);
    const carrying = sizes.filter((s) => s.samples).map((s) => s.bytes);
    expect(plain.length).toBeGreaterThan(0);
    expect(carrying.length).toBeGreaterThan(0);
    expect(Math.max(...plain)).toBeLessThanOrEqual(IMAGE_ADMIT_MAX_BYTES);
    expect(Math.max(...carrying)).toBeLessThanOrEqual(IMAGE_ADMIT_WITH_SAMPLES_MAX_BYTES);
  });

  it('a finished-video poll: one request before the answer (EVALSHA of the admit, under the byte bound), the audit event after it', async () => {
    if (!requireService('upstash stand-in', url)) return;
    const sha = await sha1Hex(ADMIT);
    // No JOBS queue: the watcher's own look must not land among the counted requests.
    const gw = gateway({ ...upstash(), MEDIA: undefined, JOBS: undefined });
    const { key } = await gw.issueKey({ credits_micro: 10_000_000, rpm: 1000 });
    const res = await gw.authed(key, '/v1/videos', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: uniq('cost video'), seconds: 2 }) });
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: string };
    // Polled until it is completed (the poll that sees it finish settles it).
    await eventually(async () => {
      const job = (await (await gw.authed(key, `/v1/videos/${id}`)).json()) as { status: string };
      expect(job.status).toBe('completed');
    });
    for (let i = 0; i < 3; i++) {
      const { status, before, after } = await sentFor(gw, url, key, `/v1/videos/${id}`);
      expect(status).toBe(200);
      expect(before).toHaveLength(1);
      admitCommand(before[0]!, sha);
      expect(bytes(before[0]!)).toBeLessThanOrEqual(POLL_ADMIT_MAX_BYTES);
      // After the answer only its audit event: one transaction.
      expect(after.map((s) => s.path)).toEqual(['/multi-exec']);
    }
  });
});
