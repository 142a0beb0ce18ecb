// Stand-in for the Upstash Redis REST API (one command per POST, /pipeline, /multi-exec; optional base64 encoding), in front of a real
// redis-server. Dependency-free (node: builtins only) with its own minimal RESP2 client.
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';

/** @typedef {{ url: string, token: string, close: () => Promise<void> }} UpstashHandle */
/** @typedef {string | number | null | Buffer | RedisError | Reply[]} Reply */

/** An error reply (`-ERR ...`) from Redis. */
class RedisError extends Error {}

/** Encodes one command as a RESP array of bulk strings. @param {Buffer[]} args */
function encodeCommand(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) parts.push(Buffer.from(`$${a.length}\r\n`), a, Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/**
 * Parses one RESP2 reply at `pos`; returns null when `buf` does not hold a complete reply yet.
 * Simple strings → string, bulk strings → Buffer, integers → number, nil → null.
 * @param {Buffer} buf @param {number} pos @returns {{ value: Reply, next: number } | null}
 */
function parseReply(buf, pos) {
  const end = buf.indexOf('\r\n', pos);
  if (end < 0) return null;
  const line = buf.toString('utf8', pos + 1, end);
  let next = end + 2;
  switch (String.fromCharCode(buf[pos])) {
    case '+': return { value: line, next };
    case '-': return { value: new RedisError(line), next };
    case ':': return { value: Number(line), next };
    case '$': {
      const n = Number(line);
      if (n < 0) return { value: null, next };
      if (buf.length < next + n + 2) return null;
      return { value: buf.subarray(next, next + n), next: next + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, next };
      const items = [];
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, next);
        if (!r) return null;
        items.push(r.value);
        next = r.next;
      }
      return { value: items, next };
    }
    default: throw new Error(`unexpected RESP type byte ${buf[pos]}`);
  }
}

/** One TCP connection to Redis; replies are matched to requests in FIFO order. */
class RespConnection {
  /** @type {{ resolve: (r: Reply) => void, reject: (e: Error) => void }[]} */
  #pending = [];
  #buf = Buffer.alloc(0);
  broken = false;

  /** @param {number} port @returns {Promise<RespConnection>} */
  static open(port) {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection({ host: '127.0.0.1', port });
      sock.once('error', reject);
      sock.once('connect', () => { sock.off('error', reject); resolve(new RespConnection(sock)); });
    });
  }

  /** @param {net.Socket} sock */
  constructor(sock) {
    this.sock = sock;
    sock.setNoDelay(true);
    sock.on('data', (chunk) => this.#onData(chunk));
    sock.on('error', (err) => this.#fail(err));
    sock.on('close', () => this.#fail(new Error('redis connection closed')));
  }

  /** @param {Buffer} chunk */
  #onData(chunk) {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    let pos = 0;
    try {
      for (let r; pos < this.#buf.length && (r = parseReply(this.#buf, pos)); pos = r.next) {
        this.#pending.shift()?.resolve(r.value);
      }
    } catch (err) {
      this.#fail(/** @type {Error} */ (err));
      this.sock.destroy();
    }
    this.#buf = this.#buf.subarray(pos);
  }

  /** @param {Error} err */
  #fail(err) {
    this.broken = true;
    for (const p of this.#pending.splice(0)) p.reject(err);
  }

  /** Sends all commands in one write and resolves with their replies, in order. @param {Buffer[][]} cmds */
  run(cmds) {
    if (this.broken) return Promise.reject(new Error('redis connection is broken'));
    const replies = cmds.map(() => new Promise((resolve, reject) => this.#pending.push({ resolve, reject })));
    this.sock.write(Buffer.concat(cmds.map(encodeCommand)));
    return /** @type {Promise<Reply[]>} */ (Promise.all(replies));
  }
}

/** Commands that leave per-connection state behind; a connection that ran one is not reused. */
const STATEFUL = new Set(['select', 'multi', 'exec', 'discard', 'watch', 'unwatch', 'subscribe', 'psubscribe',
  'ssubscribe', 'monitor', 'client', 'reset', 'hello', 'auth', 'readonly', 'readwrite', 'quit']);

/** Converts one JSON command (`["set","k",1]`) to Redis arguments. @param {unknown} cmd @returns {Buffer[]} */
function toArgs(cmd) {
  if (!Array.isArray(cmd) || cmd.length === 0) throw new TypeError('a command must be a non-empty JSON array');
  return cmd.map((a) => Buffer.from(
    typeof a === 'string' ? a : a === null || a === undefined ? '' : typeof a === 'object' ? JSON.stringify(a) : String(a),
  ));
}

/** JSON form of a reply: Buffers as UTF-8 or base64; the status "OK" stays raw. @param {Reply} v @param {boolean} b64 @returns {unknown} */
function toJson(v, b64) {
  if (Array.isArray(v)) return v.map((x) => toJson(x, b64));
  if (v instanceof RedisError) return v.message;
  if (Buffer.isBuffer(v)) return b64 ? v.toString('base64') : v.toString('utf8');
  if (typeof v === 'string') return b64 && v !== 'OK' ? Buffer.from(v).toString('base64') : v;
  return v;
}

/** @param {Reply} v @param {boolean} b64 */
const entry = (v, b64) => (v instanceof RedisError ? { error: v.message } : { result: toJson(v, b64) });

/** @param {string} s */
const sha256 = (s) => createHash('sha256').update(s).digest();

/**
 * Starts an Upstash-REST-compatible HTTP server on 127.0.0.1 in front of redis-server at `redisPort`.
 * @param {{ redisPort: number, token: string, port?: number }} options
 * @returns {Promise<UpstashHandle>}
 */
export async function startUpstash({ redisPort, token, port = 0 }) {
  const expected = sha256(`Bearer ${token}`);
  /** @type {RespConnection[]} */
  const idle = [];
  const acquire = async () => idle.pop() ?? RespConnection.open(redisPort);
  /** @param {RespConnection} c @param {boolean} reusable */
  const release = (c, reusable) => {
    if (reusable && !c.broken && idle.length < 8 && server.listening) idle.push(c);
    else c.sock.destroy();
  };
  /** Runs commands on a connection owned exclusively by this request. @param {Buffer[][]} cmds @param {boolean} reusable */
  const exclusive = async (cmds, reusable) => {
    const conn = await acquire();
    let ok = false;
    try { const r = await conn.run(cmds); ok = true; return r; } finally { release(conn, ok && reusable); }
  };
  /** @param {Buffer[][]} cmds */
  const isStateless = (cmds) => cmds.every((c) => !STATEFUL.has(c[0].toString().toLowerCase()));

  /** Authenticated REST requests (/, /pipeline, /multi-exec) served since start or the last reset. */
  let requests = 0;

  /** @param {http.IncomingMessage} req @returns {Promise<[number, unknown]>} */
  async function handle(req) {
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/+$/, '') || '/';
    // Test hooks, no auth: GET /__count → {"requests": n}; POST /__count/reset → zeroes it.
    if (path === '/__count' && req.method === 'GET') return [200, { requests }];
    if (path === '/__count/reset' && req.method === 'POST') { requests = 0; return [200, { requests }]; }
    const auth = sha256(String(req.headers.authorization ?? ''));
    if (!timingSafeEqual(auth, expected)) return [401, { error: 'Unauthorized' }];
    const route = path;
    if (req.method !== 'POST' || !['/', '/pipeline', '/multi-exec'].includes(route)) return [404, { error: 'not found' }];
    requests++;

    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    /** @type {Buffer[][]} */
    let cmds;
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (route === '/') cmds = [toArgs(body)];
      else if (Array.isArray(body) && body.length > 0) cmds = body.map(toArgs);
      else throw new TypeError('body must be a non-empty JSON array of commands');
    } catch (err) {
      return [400, { error: `bad request body: ${/** @type {Error} */ (err).message}` }];
    }
    const b64 = String(req.headers['upstash-encoding'] ?? '').toLowerCase() === 'base64';

    if (route === '/') {
      const [reply] = await exclusive(cmds, isStateless(cmds));
      return reply instanceof RedisError ? [400, { error: reply.message }] : [200, { result: toJson(reply, b64) }];
    }
    if (route === '/pipeline') {
      const replies = await exclusive(cmds, isStateless(cmds));
      return [200, replies.map((r) => entry(r, b64))];
    }
    // /multi-exec: MULTI, the commands and EXEC in one write on one dedicated connection.
    const replies = await exclusive([[Buffer.from('MULTI')], ...cmds, [Buffer.from('EXEC')]], isStateless(cmds));
    const exec = replies[replies.length - 1];
    if (Array.isArray(exec)) return [200, exec.map((r) => entry(r, b64))];
    const queueError = replies.slice(1, -1).findIndex((r) => r instanceof RedisError);
    const detail = queueError < 0 ? '' : ` (command ${queueError + 1}: ${/** @type {RedisError} */ (replies[queueError + 1]).message})`;
    const message = exec instanceof RedisError ? exec.message : 'EXEC aborted';
    return [400, { error: message + detail }];
  }

  const server = http.createServer((req, res) => {
    handle(req)
      .catch((err) => /** @type {[number, unknown]} */ ([500, { error: `stand-in failure: ${err.message}` }]))
      .then(([status, body]) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(undefined); });
  });
  const { port: actualPort } = /** @type {net.AddressInfo} */ (server.address());

  let closing = /** @type {Promise<void> | null} */ (null);
  const close = () => {
    closing ??= new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      for (const c of idle.splice(0)) c.sock.destroy();
    });
    return closing;
  };
  return { url: `http://127.0.0.1:${actualPort}`, token, close };
}
