// Data residency: with DATA_JURISDICTION every Durable Object is reached through namespace.jurisdiction(); a
// deployment whose setting changed refuses to serve (503, naming the mismatch) instead of showing empty balances;
// balances survive a restart with the same setting; the region is reported. The local runtime does not implement
// jurisdictions, so the namespace is wrapped by a thin seam that records jurisdiction() calls and keeps each
// jurisdiction's objects apart (by name), exactly as separate jurisdictions would be. Tests in this file share one
// storage and run in order: the first one claims the residency anchor for 'eu'.
import { env } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import type { Env } from '../src/env';
import type { LedgerStore } from '../src/ledger/durable/store';
import { gateway, requireService, uniq } from './helpers';

type Ns = Env['LEDGER'];
const root = (env as unknown as Env).LEDGER as unknown as DurableObjectNamespace<LedgerStore>;
const calls: string[] = [];

/** `jurisdiction(j)` answers a namespace whose objects are distinct from every other jurisdiction's. */
function seam(ns: Ns): Ns {
  const scoped = (j: string) =>
    ({ idFromName: (name: string) => ns.idFromName(`${j}:${name}`), get: (id: DurableObjectId) => ns.get(id) }) as unknown as Ns;
  return {
    idFromName: (name: string) => ns.idFromName(name),
    get: (id: DurableObjectId) => ns.get(id),
    jurisdiction: (j: string) => {
      calls.push(j);
      return scoped(j);
    },
  } as unknown as Ns;
}

const LEDGER = seam(root as unknown as Ns);
const eu = () => gateway({ LEDGER, DATA_JURISDICTION: 'eu' });
const unrestricted = () => gateway({ LEDGER });

describe('data residency', () => {
  it('every object (key directory, accounts) is reached through jurisdiction("eu"); the region is reported', async () => {
    const gw = eu();
    const account = uniq('eu-clinic');
    const { key } = await gw.issueKey({ account, credits_micro: 1_000_000, rpm: 1000 });
    const img = await gw.authed(key, '/v1/images/generations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: uniq('eu image') }) });
    expect(img.status).toBe(200);
    expect(img.headers.get('x-phi-region')).toBe('eu');
    expect(calls.length).toBeGreaterThan(0);
    expect(new Set(calls)).toEqual(new Set(['eu']));
    // The data is in the 'eu' objects, not in the unrestricted ones of the same name.
    expect(await root.get(root.idFromName(`eu:account:${account}`)).view(Date.now())).toMatchObject({ balance_micro: 1_000_000 - 33_000 });
    expect(await root.get(root.idFromName(`account:${account}`)).view(Date.now())).toBeNull();
    const acct = (await (await gw.authed(key, '/v1/account')).json()) as { residency: { region: string; ledger: string } };
    expect(acct.residency).toMatchObject({ region: 'eu', ledger: 'durable_object' });
    expect(await (await gw.fetch('/healthz')).json()).toMatchObject({ status: 'ok', residency: { region: 'eu' } });
  });

  it('balances survive a restart with the same setting', async () => {
    const first = eu();
    const account = uniq('eu-restart');
    const { key } = await first.issueKey({ account, credits_micro: 777_000 });
    const restarted = eu(); // a new env object: configuration parsed afresh, a new ledger, the residency checked again
    expect(await (await restarted.authed(key, '/v1/account')).json()).toMatchObject({ balance_micro: 777_000, available_micro: 777_000 });
  });

  it('a changed DATA_JURISDICTION refuses to serve (503 naming the mismatch) instead of showing empty balances', async () => {
    const moved = unrestricted();
    const { key } = await eu().issueKey({ credits_micro: 500_000 });
    for (const res of [await moved.authed(key, '/v1/account'), await moved.admin('/admin/accounts'), await moved.authed(key, '/v1/images/generations', { method: 'POST', body: '{"prompt":"x"}' })]) {
      expect(res.status).toBe(503);
      const { error } = (await res.json()) as { error: { code: string; message: string } };
      expect(error.code).toBe('store_unavailable');
      expect(error.message).toMatch(/residency mismatch: DATA_JURISDICTION is 'unrestricted' but this deployment's ledger lives in 'eu'/);
    }
    // The eu deployment still serves its money.
    expect(await (await eu().authed(key, '/v1/account')).json()).toMatchObject({ balance_micro: 500_000 });
  });

  it('the operator moves the anchor after migrating (README "Data residency"); the other setting is then refused', async () => {
    const moved = unrestricted();
    expect((await moved.admin('/admin/residency', { method: 'POST', body: JSON.stringify({ from: 'us' }) })).status).toBe(400);
    const ok = await moved.admin('/admin/residency', { method: 'POST', body: JSON.stringify({ from: 'eu' }) });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ residency: 'unrestricted', moved_from: 'eu' });
    const fresh = unrestricted();
    expect((await fresh.admin('/admin/accounts')).status).toBe(200);
    expect((await eu().admin('/admin/accounts')).status).toBe(503);
    // And back, so the eu objects serve again with their balances.
    expect((await eu().admin('/admin/residency', { method: 'POST', body: JSON.stringify({ from: 'unrestricted' }) })).status).toBe(200);
    expect((await eu().admin('/admin/accounts')).status).toBe(200);
  });

  it('a runtime without jurisdictions (workerd, locally) fails closed instead of placing data unrestricted', async () => {
    const gw = gateway({ DATA_JURISDICTION: 'eu' });
    const res = await gw.admin('/admin/accounts');
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/cannot restrict Durable Objects to a jurisdiction/);
    expect((await gw.fetch('/v1/models')).headers.get('x-phi-region')).toBeNull();
  });

  it('with Upstash, residency is the database region, said in /healthz and on every generation response', async () => {
    const url = inject('upstashUrl');
    if (!requireService('Upstash stand-in (redis-server)', url)) return;
    const gw = gateway({ UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: inject('upstashToken') });
    expect(await (await gw.fetch('/healthz')).json()).toMatchObject({ residency: { region: 'upstash', ledger: 'upstash', note: expect.stringMatching(/Upstash Redis database: its region/) } });
    const { key } = await gw.issueKey({ credits_micro: 100_000 });
    const res = await gw.authed(key, '/v1/images/generations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: uniq('upstash region') }) });
    expect(res.headers.get('x-phi-region')).toBe('upstash');
  });
});
