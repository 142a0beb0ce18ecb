// Stand-in Redis for tests: spawns the real `redis-server` binary on a free loopback port.
// Dependency-free (node: builtins only). Install the binary with `apt-get install redis-server`.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** @typedef {{ port: number, pid: number, stop: () => Promise<void> }} RedisHandle */

/** Asks the OS for a free TCP port on 127.0.0.1 (listen on port 0, read it, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves true if a RESP PING on `port` answers +PONG, false otherwise. */
function ping(port) {
  return new Promise((resolve) => {
    const sock = net.createConnection({ host: '127.0.0.1', port });
    let data = '';
    const done = (/** @type {boolean} */ ok) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('*1\r\n$4\r\nPING\r\n'));
    sock.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (data.includes('\r\n')) done(data.startsWith('+PONG'));
    });
  });
}

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts a throw-away redis-server (no persistence) on 127.0.0.1 and waits until it answers PING.
 * The child is killed when this Node process exits, even if `stop()` is never called.
 * @returns {Promise<RedisHandle>}
 */
export async function startRedis() {
  const port = await freePort();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'phi-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no',
      '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );

  // Keep the last few KiB of output for error messages (and keep the pipes drained).
  let output = '';
  const collect = (/** @type {Buffer} */ chunk) => { output = (output + chunk.toString()).slice(-4096); };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);

  /** @type {Promise<void>} */
  const exited = new Promise((resolve) => child.once('exit', () => resolve()));
  let hasExited = false;
  exited.then(() => { hasExited = true; });

  // Either 'spawn' (binary started) or 'error' (e.g. ENOENT) fires first.
  try {
    await new Promise((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    if (/** @type {NodeJS.ErrnoException} */ (err).code === 'ENOENT') {
      throw new Error('redis-server not found: install it with apt-get install redis-server');
    }
    throw err;
  }

  const killOnExit = () => {
    if (!hasExited) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', killOnExit);
  // Do not keep the parent alive just because redis runs; the exit hook cleans up.
  child.unref();
  child.stdout.unref?.();
  child.stderr.unref?.();

  /** @type {Promise<void> | null} */
  let stopping = null;
  const stop = () => {
    stopping ??= (async () => {
      child.ref(); // keep the event loop alive until the child is really gone
      if (!hasExited) child.kill('SIGTERM');
      const timer = setTimeout(() => { if (!hasExited) child.kill('SIGKILL'); }, 3000);
      await exited;
      clearTimeout(timer);
      process.off('exit', killOnExit);
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const deadline = Date.now() + 5000;
  for (;;) {
    if (hasExited) {
      await stop();
      throw new Error(`redis-server exited during startup:\n${output}`);
    }
    if (await ping(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not answer PING on port ${port} within 5 s:\n${output}`);
    }
    await sleep(50);
  }
  return { port, pid: /** @type {number} */ (child.pid), stop };
}

/**
 * A loopback control for freezing a Redis the way a hung store behaves: POST /freeze sends SIGSTOP, /thaw SIGCONT.
 * @param {number} pid @returns {Promise<{ url: string, thaw: () => void, close: () => Promise<void> }>}
 */
export async function startRedisControl(pid) {
  const thaw = () => {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      /* gone */
    }
  };
  const server = http.createServer((req, res) => {
    if (req.url === '/freeze') process.kill(pid, 'SIGSTOP');
    else if (req.url === '/thaw') thaw();
    res.end('ok');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const url = `http://127.0.0.1:${/** @type {net.AddressInfo} */ (server.address()).port}`;
  return { url, thaw, close: () => new Promise((resolve) => { thaw(); server.close(() => resolve(undefined)); }) };
}
