// A customer's webhook endpoint, for the tests: records every POST to /hook/<name> (headers and the exact raw body)
// and answers 200, or 500 while a failure count set with POST /__fail/<name>?times=N lasts. GET /__deliveries/<name>
// lists what arrived there, each with the status it was answered with. 127.0.0.1 only.
import { createServer } from 'node:http';

export async function startReceiver({ port = 0 } = {}) {
  /** @type {Map<string, {headers: Record<string, string>, body: string, status: number, at: number}[]>} */
  const deliveries = new Map();
  const failures = new Map();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url, 'http://receiver');
      const [, kind, name = ''] = url.pathname.split('/');
      const send = (status, body) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method === 'POST' && kind === 'hook') {
        const left = failures.get(name) ?? 0;
        const status = left > 0 ? 500 : 200;
        if (left > 0) failures.set(name, left - 1);
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
        deliveries.set(name, [...(deliveries.get(name) ?? []), { headers, body: Buffer.concat(chunks).toString('utf8'), status, at: Date.now() }]);
        return send(status, { ok: status === 200 });
      }
      if (req.method === 'POST' && kind === '__fail') {
        failures.set(name, Number(url.searchParams.get('times') ?? 1));
        return send(200, { ok: true });
      }
      if (req.method === 'GET' && kind === '__deliveries') return send(200, deliveries.get(name) ?? []);
      send(404, { error: 'not found' });
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${bound}`,
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}
