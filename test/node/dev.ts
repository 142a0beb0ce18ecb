// Shared by the Node-side tests: `npm run dev` as a process on free ports with its own state directory, and Debian's
// chromium driven by playwright-core.
import { spawn, type ChildProcess } from 'node:child_process';
import fs, { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const ADMIN = 'dev-admin-token';
export const TEST_KEY = 'phi_test_local_shared_key';
/** Where screenshots go (gitignored; CI keeps them as artefacts). */
export const SHOTS = path.join(ROOT, 'test-results');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface DevServer {
  base: string;
  falBase: string;
  /** The V8 inspector (Chrome DevTools) Miniflare serves for workerd: INSPECTOR_PORT. */
  inspectorBase: string;
  /** The process group of `npm run dev` (scripts/dev.mjs, workerd and all it starts). */
  pid: number;
  /** Its PERSIST_TO directory (removed by stop()). */
  state: string;
  /** The last 20 000 characters it wrote. */
  output(): string;
  /** Its exit code once it exited (undefined while it runs). */
  exited(): number | null | undefined;
  stop(): Promise<void>;
}

/** Starts `npm run dev` (scripts/dev.mjs) and waits until /healthz answers. */
export async function startDev(env: Record<string, string> = {}): Promise<DevServer> {
  const [port, fal, worker, inspector] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const state = mkdtempSync(path.join(os.tmpdir(), 'phi-dev-test-'));
  let output = '';
  let exited: number | null | undefined;
  const child: ChildProcess = spawn(process.execPath, ['scripts/dev.mjs'], {
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
      ...env,
    },
  });
  child.stdout!.on('data', (d) => (output = (output + d).slice(-20_000)));
  child.stderr!.on('data', (d) => (output = (output + d).slice(-20_000)));
  child.on('exit', (code) => (exited = code));
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.pid && exited === undefined) {
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
  };
  for (let i = 0; ; i++) {
    if (exited !== undefined) {
      await stop();
      throw new Error(`npm run dev exited (${exited}):\n${output}`);
    }
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      /* not yet */
    }
    if (i > 200) {
      await stop();
      throw new Error(`dev server not ready after 100 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return { base, falBase: `http://127.0.0.1:${fal}`, inspectorBase: `http://127.0.0.1:${inspector}`, pid: child.pid!, state, output: () => output, exited: () => exited, stop };
}

/** Debian's chromium, headless (no sandbox as root, no background networking). Under CI a missing one fails. */
export async function browser(): Promise<Browser | null> {
  if (!fs.existsSync('/usr/bin/chromium')) {
    if (process.env.CI === 'true') throw new Error('/usr/bin/chromium is missing (npm test installs it with apt: scripts/ensure-tools.mjs)');
    return null;
  }
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage', '--disable-component-update', '--no-first-run'],
  });
}
