// `npm run dev` under a burst (issue 24): wrangler dev's internal proxy used to exit the whole dev server when its
// connection to the worker reset — 20 concurrent GET /admin/ carrying 20 KB bodies did it every time. The dev server
// now serves from workerd through Miniflare's Node API (scripts/dev.mjs). These send that burst (and the same against
// the worker's own GET routes), then check /healthz; and a body on a route that takes none is drained, so the
// connection it came on keeps serving.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDev, type DevServer } from './dev';

let dev: DevServer;
let port = 0;

beforeAll(async () => {
  dev = await startDev();
  port = Number(new URL(dev.base).port);
});

afterAll(async () => {
  await dev?.stop();
});

/** One request with a body (fetch refuses a GET with one; node:http sends it as written). Resolves to the status or the socket error. */
function send(route: string, opts: { method?: string; body?: Buffer; agent?: http.Agent } = {}): Promise<{ status: number | string; socket?: unknown }> {
  return new Promise((resolve) => {
    const body = opts.body ?? Buffer.alloc(20 * 1024, 0x78);
    const req = http.request(
      { host: '127.0.0.1', port, path: route, method: opts.method ?? 'GET', agent: opts.agent, headers: { 'content-type': 'text/plain', 'content-length': body.length } },
      (res) => {
        const socket = res.socket;
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, socket }));
        res.on('error', (e) => resolve({ status: `response ${(e as NodeJS.ErrnoException).code}` }));
      },
    );
    req.on('error', (e) => resolve({ status: `request ${(e as NodeJS.ErrnoException).code}` }));
    req.end(body);
  });
}

const healthy = async () => {
  await new Promise((r) => setTimeout(r, 300));
  expect(dev.exited(), dev.output()).toBeUndefined();
  expect((await fetch(`${dev.base}/healthz`)).status).toBe(200);
};

describe('npm run dev survives a burst', () => {
  it('20 concurrent GET /admin/ with 20 KB bodies (static assets), three times: all answered, then /healthz is 200', async () => {
    for (let round = 0; round < 3; round++) {
      const got = await Promise.all(Array.from({ length: 20 }, () => send('/admin/')));
      expect(got.map((g) => g.status)).toEqual(Array(20).fill(200));
      await healthy();
    }
  });

  it('the same burst on the worker: GET routes with bodies, unauthenticated ones, unknown paths', async () => {
    const routes = ['/healthz', '/v1/models', '/openapi.json', '/v1/account', '/admin/keys', '/v1/nothing', '/admin/accounts'];
    const got = await Promise.all(Array.from({ length: 40 }, (_, i) => send(routes[i % routes.length]!)));
    const want = { '/healthz': 200, '/v1/models': 200, '/openapi.json': 200, '/v1/account': 401, '/admin/keys': 401, '/v1/nothing': 404, '/admin/accounts': 401 } as Record<string, number>;
    expect(got.map((g) => g.status)).toEqual(Array.from({ length: 40 }, (_, i) => want[routes[i % routes.length]!]));
    await healthy();
  });

  it('a body on a route that takes none is drained: one kept-alive connection serves request after request', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const sockets = new Set<unknown>();
      for (const route of ['/healthz', '/v1/models', '/v1/account', '/admin/keys', '/v1/nothing']) {
        for (let i = 0; i < 4; i++) {
          const { status, socket } = await send(route, { agent });
          expect(typeof status, `${route} #${i}: ${status}`).toBe('number');
          sockets.add(socket);
        }
      }
      expect(sockets.size).toBe(1);
    } finally {
      agent.destroy();
    }
    await healthy();
  });
});
