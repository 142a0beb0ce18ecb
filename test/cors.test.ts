// CORS for browser clients (issue 13.6): preflights answered before auth for listed origins only, never `*` with
// credentials, readable response headers exposed, the operator API never cross-origin.
import { describe, expect, it } from 'vitest';
import { gateway, TEST_API_KEY } from './helpers';

const APP = 'https://app.clinic.example';
const preflight = (origin: string, path = '/v1/images/generations') => ({
  method: 'OPTIONS',
  headers: {
    origin,
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'authorization, content-type, idempotency-key, x-stainless-retry-count',
  },
  path,
});

describe('CORS', () => {
  it('a listed origin: preflight 204 with methods and the asked headers, no key needed; responses expose the gateway headers', async () => {
    const gw = gateway({ CORS_ORIGINS: `${APP}, https://other.example` });
    const p = preflight(APP);
    const res = await gw.fetch(p.path, p);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')).toBe('authorization, content-type, idempotency-key, x-stainless-retry-count');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('vary')).toContain('Origin');
    const got = await gw.fetch('/v1/account', { headers: { origin: APP, authorization: `Bearer ${TEST_API_KEY}` } });
    expect(got.status).toBe(200);
    expect(got.headers.get('access-control-allow-origin')).toBe(APP);
    expect(got.headers.get('access-control-expose-headers')).toContain('x-request-id');
    // Errors carry them too (a browser script must be able to read the envelope).
    const err = await gw.fetch('/v1/account', { headers: { origin: APP } });
    expect(err.status).toBe(401);
    expect(err.headers.get('access-control-allow-origin')).toBe(APP);
  });

  it('an unlisted origin, or none configured: no CORS headers at all', async () => {
    for (const gw of [gateway({ CORS_ORIGINS: APP }), gateway()]) {
      const p = preflight('https://evil.example');
      const res = await gw.fetch(p.path, p);
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      const got = await gw.fetch('/v1/models', { headers: { origin: 'https://evil.example' } });
      expect(got.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('`*` answers any origin with `*`, never with credentials; the operator API is never cross-origin', async () => {
    const gw = gateway({ CORS_ORIGINS: '*' });
    const p = preflight('https://anyone.example');
    const res = await gw.fetch(p.path, p);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    const admin = await gw.fetch('/admin/accounts/x', { method: 'OPTIONS', headers: { origin: 'https://anyone.example', 'access-control-request-method': 'GET' } });
    expect(admin.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('an invalid CORS_ORIGINS is a config error naming it', async () => {
    const res = await gateway({ CORS_ORIGINS: 'https://app.example/path' }).fetch('/v1/models');
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('CORS_ORIGINS');
  });
});
