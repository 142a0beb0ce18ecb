// The ledger object's schema (issue 23): the hot path's small keyed tables are WITHOUT ROWID and usage has no
// AUTOINCREMENT, so a warm paid image's admit writes fewer pages; an object created by an earlier version is rebuilt
// into exactly the shape a new object gets, every row kept; and the admit runs the statements money needs, no more.
import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS, migrate } from '../src/ledger/durable/schema';
import { Db } from '../src/ledger/durable/state';
import type { LedgerStore } from '../src/ledger/durable/store';
import { gateway, uniq } from './helpers';

const objectOf = (name: string) => env.LEDGER.get(env.LEDGER.idFromName(name)) as unknown as DurableObjectStub<LedgerStore>;

/** Tables and indexes as SQLite stores their definitions, quoting and spacing normalised. */
const shape = (sql: SqlStorage) =>
  sql
    .exec("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND sql IS NOT NULL ORDER BY type, name")
    .toArray()
    .map((r) => `${r.type} ${r.name}: ${String(r.sql).replace(/"/g, '').replace(/IF NOT EXISTS /g, '').replace(/\s+/g, ' ')}`);

/** The five tables as the version before issue 23 created them (rowid tables, AUTOINCREMENT usage). */
const OLD = `
DROP TABLE holds; DROP TABLE claims; DROP TABLE usage; DROP TABLE spend; DROP TABLE samples;
CREATE TABLE holds (id TEXT PRIMARY KEY, amount INTEGER NOT NULL, expires_at INTEGER NOT NULL, released INTEGER NOT NULL DEFAULT 0, counter TEXT);
CREATE INDEX holds_expiry ON holds (expires_at);
CREATE INDEX holds_active ON holds (released, expires_at);
CREATE TABLE claims (id TEXT PRIMARY KEY, amount INTEGER NOT NULL, expires_at INTEGER NOT NULL, void INTEGER NOT NULL DEFAULT 0, counter TEXT);
CREATE INDEX claims_expiry ON claims (expires_at);
CREATE TABLE usage (seq INTEGER PRIMARY KEY AUTOINCREMENT, claim TEXT NOT NULL, amount INTEGER NOT NULL, memo TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX usage_at ON usage (at);
CREATE TABLE spend (id TEXT PRIMARY KEY, amount INTEGER NOT NULL, until INTEGER NOT NULL);
CREATE INDEX spend_until ON spend (until);
CREATE TABLE samples (claim TEXT PRIMARY KEY, at INTEGER NOT NULL, ms INTEGER NOT NULL, code TEXT);
CREATE INDEX samples_at ON samples (at);
INSERT INTO holds VALUES ('vh_1', 240000, 9000000000000, 0, 'c1'), ('vh_2', 0, 9000000000000, 1, NULL);
INSERT INTO claims VALUES ('img_1', 33000, 9000000000000, 0, NULL), ('img_2', 0, 9000000000000, 1, 'c1');
INSERT INTO usage (claim, amount, memo, at) VALUES ('img_1', 33000, '{"m":"krea-2"}', 1000), ('img_1', -33000, 'refund', 2000);
INSERT INTO spend VALUES ('c1', 33000, 0);
INSERT INTO samples VALUES ('img_1', 1000, 850, NULL);
`;

const rows = (sql: SqlStorage) =>
  Object.fromEntries(['holds', 'claims', 'usage', 'spend', 'samples'].map((t) => [t, sql.exec(`SELECT * FROM ${t} ORDER BY 1`).toArray()]));

describe('ledger schema', () => {
  it('a new object has the hot tables WITHOUT ROWID and usage without AUTOINCREMENT', async () => {
    const tables = await runInDurableObject(objectOf(uniq('account:fresh')), (_o, state) => shape(state.storage.sql).filter((s) => s.startsWith('table ')));
    for (const t of ['holds', 'claims', 'spend', 'samples']) expect(tables.find((s) => s.startsWith(`table ${t}:`))).toMatch(/WITHOUT ROWID$/);
    expect(tables.find((s) => s.startsWith('table usage:'))).not.toMatch(/AUTOINCREMENT/);
  });

  it('an object of the previous version is rebuilt into the same shape as a new one, rows kept', async () => {
    const fresh = await runInDurableObject(objectOf(uniq('account:fresh')), (_o, state) => shape(state.storage.sql));
    const { before, after, migrated } = await runInDurableObject(objectOf(uniq('account:old')), (_o, state) => {
      const sql = state.storage.sql;
      sql.exec(OLD);
      sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('schema', ?)", MIGRATIONS.length - 5);
      const before = rows(sql);
      migrate(new Db(state.storage));
      return { before, after: rows(sql), migrated: shape(sql) };
    });
    expect(migrated).toEqual(fresh);
    expect(after).toEqual(before);
    expect(before.usage).toHaveLength(2);
  });

  it('a warm paid image admit runs 3 statements: the claim, the balance, the usage row', async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const image = () => gw.authed(key, '/v1/images/generations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: uniq('stmt') }) });
    expect((await image()).status).toBe(200); // first use: the object's sweep and the key's last use are written
    const before = await objectOf(`account:${account}`).admitCost();
    expect((await image()).status).toBe(200);
    const after = await objectOf(`account:${account}`).admitCost();
    expect(after.calls - before.calls).toBe(1);
    expect(after.statements - before.statements).toBe(3);
  });
});
