// The SQLite schema of a ledger object (the key directory and every account object share it) and the migrations
// that bring objects created by earlier versions up to it.

import type { Db } from './state';

/** Tables, as SCHEMA creates them: the last migrations rebuild an older object's into this shape, rows kept. */
const TABLES = {
  holds: `(id TEXT PRIMARY KEY, amount INTEGER NOT NULL, expires_at INTEGER NOT NULL, released INTEGER NOT NULL DEFAULT 0,
  counter TEXT) WITHOUT ROWID`,
  claims: `(id TEXT PRIMARY KEY, amount INTEGER NOT NULL, expires_at INTEGER NOT NULL, void INTEGER NOT NULL DEFAULT 0,
  counter TEXT) WITHOUT ROWID`,
  usage: `(seq INTEGER PRIMARY KEY, claim TEXT NOT NULL, amount INTEGER NOT NULL, memo TEXT NOT NULL, at INTEGER NOT NULL)`,
  spend: `(id TEXT PRIMARY KEY, amount INTEGER NOT NULL, until INTEGER NOT NULL) WITHOUT ROWID`,
  samples: `(claim TEXT PRIMARY KEY, at INTEGER NOT NULL, ms INTEGER NOT NULL, code TEXT) WITHOUT ROWID`,
} as const;
const COLUMNS: Record<keyof typeof TABLES, string> = {
  holds: 'id, amount, expires_at, released, counter',
  claims: 'id, amount, expires_at, void, counter',
  usage: 'seq, claim, amount, memo, at',
  spend: 'id, amount, until',
  samples: 'claim, at, ms, code',
};

/**
 * Copies a table into its new shape (the indexes go with the old table; SCHEMA creates them again). A table the
 * object never had (created by SCHEMA in a later version than the object's) is created empty first.
 */
function rebuild(t: keyof typeof TABLES): string {
  return `CREATE TABLE IF NOT EXISTS ${t} ${TABLES[t]};
   CREATE TABLE ${t}_new ${TABLES[t]};
   INSERT INTO ${t}_new (${COLUMNS[t]}) SELECT ${COLUMNS[t]} FROM ${t};
   DROP TABLE ${t};
   ALTER TABLE ${t}_new RENAME TO ${t};`;
}

/**
 * Objects created by the first version have `rl` (fixed windows) and no `released` / `void` columns: bring them
 * up to this schema before it is used. Each step runs once per object (tracked in `meta`).
 */
export const MIGRATIONS: string[] = [
  `ALTER TABLE holds ADD COLUMN released INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE claims ADD COLUMN void INTEGER NOT NULL DEFAULT 0;
   DROP TABLE IF EXISTS rl;`,
  // Operator API: key labels, creation, expiry and revocation (kept, not deleted); key last use per account.
  `ALTER TABLE keys ADD COLUMN label TEXT;
   ALTER TABLE keys ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE keys ADD COLUMN expires_at INTEGER;
   ALTER TABLE keys ADD COLUMN revoked_at INTEGER;`,
  `ALTER TABLE jobs ADD COLUMN meta TEXT;`,
  // Regulated posture: a per-account PHI screening override (key directory), and where the directory lives.
  `ALTER TABLE accounts ADD COLUMN phi_scan TEXT;`,
  // Per-key budgets (key directory); the counter a hold or a charge counts toward (account objects).
  `ALTER TABLE keys ADD COLUMN budget_micro INTEGER;
   ALTER TABLE keys ADD COLUMN budget_period TEXT;
   ALTER TABLE holds ADD COLUMN counter TEXT;
   ALTER TABLE claims ADD COLUMN counter TEXT;`,
  // Issue 23, fewer pages per commit: the small keyed tables of the hot path become WITHOUT ROWID (one b-tree,
  // not a rowid table plus its primary-key index), usage drops AUTOINCREMENT (no sqlite_sequence write per row).
  ...(['holds', 'claims', 'usage', 'spend', 'samples'] as const).map((t) => rebuild(t)),
];

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS keys (hash TEXT PRIMARY KEY, key_id TEXT UNIQUE NOT NULL, account TEXT NOT NULL,
  tier TEXT NOT NULL, rpm INTEGER NOT NULL, label TEXT, created_at INTEGER NOT NULL DEFAULT 0, expires_at INTEGER,
  revoked_at INTEGER, budget_micro INTEGER, budget_period TEXT);
CREATE INDEX IF NOT EXISTS keys_account ON keys (account, created_at);
CREATE TABLE IF NOT EXISTS accounts (name TEXT PRIMARY KEY, phi_scan TEXT);
CREATE TABLE IF NOT EXISTS residency (id INTEGER PRIMARY KEY CHECK (id = 1), jurisdiction TEXT NOT NULL, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, event TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
CREATE TABLE IF NOT EXISTS key_used (key_id TEXT PRIMARY KEY, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS account (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL,
  balance INTEGER NOT NULL, spent INTEGER NOT NULL DEFAULT 0, charges INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS holds ${TABLES.holds};
CREATE INDEX IF NOT EXISTS holds_expiry ON holds (expires_at);
CREATE INDEX IF NOT EXISTS holds_active ON holds (released, expires_at);
CREATE TABLE IF NOT EXISTS claims ${TABLES.claims};
CREATE INDEX IF NOT EXISTS claims_expiry ON claims (expires_at);
CREATE TABLE IF NOT EXISTS usage ${TABLES.usage};
CREATE INDEX IF NOT EXISTS usage_at ON usage (at);
CREATE TABLE IF NOT EXISTS idem (key TEXT PRIMARY KEY, fp TEXT NOT NULL, response TEXT, expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS idem_expiry ON idem (expires_at);
CREATE TABLE IF NOT EXISTS jobs (key TEXT PRIMARY KEY, id TEXT NOT NULL, created_at INTEGER NOT NULL, state TEXT,
  expires_at INTEGER NOT NULL, remixed_from TEXT, deleted INTEGER NOT NULL DEFAULT 0, meta TEXT);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at, key);
CREATE INDEX IF NOT EXISTS jobs_expiry ON jobs (expires_at);
CREATE TABLE IF NOT EXISTS webhook (id INTEGER PRIMARY KEY CHECK (id = 1), url TEXT NOT NULL, nonce TEXT NOT NULL,
  created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS spend ${TABLES.spend};
CREATE INDEX IF NOT EXISTS spend_until ON spend (until);
CREATE TABLE IF NOT EXISTS refusals (minute INTEGER NOT NULL, key_id TEXT NOT NULL, model TEXT NOT NULL, code TEXT NOT NULL,
  n INTEGER NOT NULL, PRIMARY KEY (minute, key_id, model, code));
CREATE TABLE IF NOT EXISTS samples ${TABLES.samples};
CREATE INDEX IF NOT EXISTS samples_at ON samples (at);
`;

/** Runs the migrations an existing object still needs, then creates whatever the schema lacks. */
export function migrate(db: Db): void {
  db.sql.exec('CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
  const fresh = !db.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'holds'");
  const version = fresh ? MIGRATIONS.length : Number(db.one("SELECT v FROM meta WHERE k = 'schema'")?.v ?? 0);
  for (let v = version; v < MIGRATIONS.length; v++) db.sql.exec(MIGRATIONS[v]!);
  db.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('schema', ?)", MIGRATIONS.length);
  db.sql.exec(SCHEMA);
}
