// A fault-injecting HTTP proxy for tests (in front of the Upstash stand-in, or anything else on loopback).
// Faults are scoped by a substring of the request body (e.g. an account name, which every Redis key of that
// account contains), so concurrent test files never disturb each other. Control, no auth:
//   POST /__faults {match, mode, skip?, times?, ms?}  mode: 'fail' (HTTP 500, nothing forwarded),
//     'lost-reply' (forwarded and applied, then the reply is lost on the way back: a 502 with no reply in it, as an
//     edge proxy answers when its origin connection drops — the caller cannot tell whether the command ran; the
//     socket itself is not cut, since workerd logs every dropped connection with a stack trace, caught or not),
//     'hang' (held open, nothing forwarded),
//     'delay' (forwarded after `ms`). `skip` lets that many matching requests through first; `times` (default
//     unlimited) bounds how many are faulted.
//   DELETE /__faults?match=… → removes the faults for that match.
import http from 'node:http';

/** @param {{ target: string, port?: number }} opts */
export async function startFaultProxy({ target, port = 0 }) {
  /** @type {{ match: string, mode: string, skip: number, times: number, ms: number }[]} */
  let faults = [];
  const held = new Set();
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/__faults') {
      if (req.method === 'POST') {
        const f = JSON.parse(body.toString('utf8'));
        faults.push({ match: f.match, mode: f.mode, skip: f.skip ?? 0, times: f.times ?? Infinity, ms: f.ms ?? 0 });
      } else if (req.method === 'DELETE') {
        faults = faults.filter((f) => f.match !== url.searchParams.get('match'));
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ faults: faults.length }));
    }
    const text = body.toString('utf8');
    const fault = faults.find((f) => text.includes(f.match) && f.times > 0);
    let mode = 'pass';
    if (fault) {
      if (fault.skip > 0) fault.skip--;
      else {
        fault.times--;
        mode = fault.mode;
      }
    }
    if (mode === 'fail') {
      res.writeHead(500, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: 'injected failure' }));
    }
    if (mode === 'hang') {
      held.add(res);
      res.on('close', () => held.delete(res));
      return;
    }
    if (mode === 'delay') await new Promise((r) => setTimeout(r, fault.ms));
    const headers = { ...req.headers };
    delete headers.host;
    delete headers['content-length'];
    let upstream;
    try {
      upstream = await fetch(new URL(req.url ?? '/', target), { method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body });
    } catch {
      res.writeHead(502);
      return res.end();
    }
    const reply = Buffer.from(await upstream.arrayBuffer());
    if (mode === 'lost-reply') {
      // The store applied the command; its answer never reaches the caller.
      res.writeHead(502, { 'content-type': 'text/plain' });
      return res.end('upstream connection lost');
    }
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
    res.end(reply);
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve(undefined)));
  const url = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`;
  return {
    url,
    close: () =>
      new Promise((resolve) => {
        for (const r of held) r.destroy();
        server.closeAllConnections();
        server.close(() => resolve(undefined));
      }),
  };
}
