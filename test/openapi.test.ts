// The API document (issue 13.4): every registered route is documented and every documented operation exists; its
// error codes are the gateway's; each operation answers with a status it documents. (Schema validation of the
// document against the OpenAPI 3.1 meta-schema runs in Node: test/node/dev-server.test.ts.)
import { describe, expect, it } from 'vitest';
import { app } from '../src/app';
import { ERROR_CODES } from '../src/http/errors';
import { buildDocument, UNDOCUMENTED } from '../src/openapi/document';
import { gateway, uniq } from './helpers';

type Op = { security?: { [k: string]: string[] }[]; responses: Record<string, unknown>; requestBody?: { content: Record<string, unknown> } };
type Doc = { openapi: string; paths: Record<string, Record<string, Op>>; components: { schemas: { Error: { properties: { error: { properties: { code: { enum: string[] } } } } } } } };

const toOpenApi = (p: string) => p.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

describe('/openapi.json', () => {
  it('documents exactly the routes the app registers, and the error codes it answers with', async () => {
    const res = await gateway().fetch('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const doc = (await res.json()) as Doc;
    expect(doc.openapi).toBe('3.1.0');
    // The served file is what the route schemas generate today (else: npm run openapi).
    expect(doc, 'src/openapi/openapi.json is stale: run npm run openapi').toEqual(JSON.parse(JSON.stringify(buildDocument())));
    const registered = new Set(
      app.routes
        .filter((r) => r.method !== 'ALL' && r.method !== 'HEAD' && !r.path.includes('*'))
        .map((r) => `${r.method} ${toOpenApi(r.path)}`)
        .filter((r) => !UNDOCUMENTED.includes(r)),
    );
    // The docs page's script is served, but it is not an API operation (the issue: /docs listed it as one).
    expect(doc.paths['/docs.js']).toBeUndefined();
    expect(registered.size).toBeGreaterThan(0);
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`)));
    expect([...registered].filter((r) => !documented.has(r)), 'registered but not documented').toEqual([]);
    expect([...documented].filter((d) => !registered.has(d)), 'documented but not registered').toEqual([]);
    expect(doc.components.schemas.Error.properties.error.properties.code.enum.sort()).toEqual([...ERROR_CODES].sort());
    // Bodies come from the validating schemas: the limits a request is checked against are the documented ones.
    const images = doc.paths['/v1/images/generations']!.post!.requestBody!.content['application/json'] as { schema: { properties: Record<string, { maxLength?: number }>; required: string[] } };
    expect(images.schema.required).toContain('prompt');
    expect(images.schema.properties.prompt!.maxLength).toBe(4000);
  });

  it('every documented operation answers, with a status it documents (never an unknown-route 404 or a 405)', async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key, account } = await gw.issueKey({ credits_micro: 0 });
    const doc = (await (await gw.fetch('/openapi.json')).json()) as Doc;
    const values: Record<string, string> = { id: 'video_nope', key: 'i_nope.png', token: 'AAAA', keyId: 'key_nope', account };
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const url = path.replace(/\{([^}]+)\}/g, (_, p: string) => values[p] ?? 'x');
        const admin = op.security?.some((s) => 'adminToken' in s);
        const auth: Record<string, string> = op.security && op.security.length === 0 ? {} : { authorization: `Bearer ${admin ? 'test-admin-token' : key}` };
        const json = op.requestBody?.content['application/json'];
        const res = await gw.fetch(url, {
          method: method.toUpperCase(),
          headers: { ...auth, ...(json ? { 'content-type': 'application/json' } : {}) } as Record<string, string>,
          ...(op.requestBody ? { body: json ? JSON.stringify({ prompt: uniq('doc'), url: 'https://hooks.example.com/x', amount_micro: 1, reason: 'doc check', tier: 'paid' }) : '' } : {}),
        });
        const where = `${method.toUpperCase()} ${path} → ${res.status}`;
        expect(Object.keys(op.responses), where).toContain(String(res.status));
        if (res.status === 404) expect(((await res.json()) as { error: { message: string } }).error.message, where).not.toBe('Unknown route');
        else await res.body?.cancel();
        expect(res.headers.get('x-request-id'), where).toMatch(/^req_/);
      }
    }
  });

  it('/docs renders it with no external resource and a strict CSP', async () => {
    const gw = gateway();
    const page = await gw.fetch('/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\//);
    const js = await gw.fetch('/docs.js');
    expect(js.headers.get('content-type')).toContain('text/javascript');
    expect(await js.text()).not.toMatch(/https?:\/\/|innerHTML/);
  });
});
