// The local dev server as users run it (`npm run dev`: wrangler dev + the fal and ComfyUI stand-ins): an oversized
// chunked body gets its 413 and the server keeps serving. (Answering before the body was read used to take
// wrangler dev down.)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

let child: ChildProcess;
let base = '';
let output = '';
let exited: number | null | undefined;
const state = mkdtempSync(path.join(os.tmpdir(), 'phi-dev-test-'));

beforeAll(async () => {
  const [port, fal, worker, inspector] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  base = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, ['scripts/dev.mjs'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PATH: `${path.join(ROOT, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH}`,
      PORT: String(port),
      FAL_STANDIN_PORT: String(fal),
      WORKER_STANDIN_PORT: String(worker),
      INSPECTOR_PORT: String(inspector),
      PERSIST_TO: state,
      WRANGLER_SEND_METRICS: 'false',
    },
  });
  child.stdout!.on('data', (d) => (output = (output + d).slice(-20_000)));
  child.stderr!.on('data', (d) => (output = (output + d).slice(-20_000)));
  child.on('exit', (code) => (exited = code));
  for (let i = 0; ; i++) {
    if (exited !== undefined) throw new Error(`npm run dev exited (${exited}):\n${output}`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      /* not yet */
    }
    if (i > 200) throw new Error(`dev server not ready after 100 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 500));
  }
});

afterAll(async () => {
  if (child?.pid && exited === undefined) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    await new Promise((r) => setTimeout(r, 1_500));
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rmSync(state, { recursive: true, force: true });
});

/** A body sent in chunks (no Content-Length), `size` bytes of it. */
const chunked = (size: number) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (let sent = 0; sent < size; sent += 64 * 1024) c.enqueue(new Uint8Array(64 * 1024));
      c.close();
    },
  });

describe('npm run dev under oversized bodies', () => {
  it.each([
    ['/v1/images/generations', 2 * 1024 * 1024, 'chunked'],
    ['/admin/keys', 200 * 1024, 'chunked'],
    ['/v1/videos', 3 * 1024 * 1024, 'chunked'],
    ['/v1/images/generations', 2 * 1024 * 1024, 'declared'],
  ])('POST %s with %i bytes (%s) → 413 envelope, and the server keeps serving', async (route, size, mode) => {
    const body = mode === 'chunked' ? chunked(size) : new Uint8Array(size);
    const res = await fetch(`${base}${route}`, { method: 'POST', body, headers: { 'content-type': 'application/json' }, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    const { error } = (await res.json()) as { error: { code: string } };
    expect(error.code).toBe('payload_too_large');
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    if (route.startsWith('/v1/')) expect(res.headers.get('x-phi-tier')).toBe('non_phi');
    await new Promise((r) => setTimeout(r, 300));
    expect(exited, output).toBeUndefined();
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('still generates afterwards: a key, an image, its bytes', async () => {
    const issued = await fetch(`${base}/admin/keys`, {
      method: 'POST',
      headers: { authorization: 'Bearer dev-admin-token', 'content-type': 'application/json' },
      body: JSON.stringify({ tier: 'paid', credits_micro: 100_000 }),
    });
    expect(issued.status).toBe(201);
    const { key } = (await issued.json()) as { key: string };
    const res = await fetch(`${base}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'a calm clinic waiting room, soft light' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-phi-cost-micro')).toBe('33000');
    const { data } = (await res.json()) as { data: { url: string }[] };
    const png = new Uint8Array(await (await fetch(data[0]!.url)).arrayBuffer());
    expect([...png.slice(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
  });
});
