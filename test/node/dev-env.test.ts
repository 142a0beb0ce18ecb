// `npm run dev` and its environment: every configuration name the gateway reads (src/config.ts, documented in the
// README Configuration table) is taken from the environment, not only from .dev.vars; secrets given that way never
// appear on any process's command line (Miniflare hands workerd its configuration on stdin), in the dev server's
// output, or in a file anyone but its owner can read.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startDev, type DevServer } from './dev';

/** The README Configuration table: every name in a row's first cell, with that row's default. */
function documented(): { name: string; fallback: string }[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Configuration\n');
  const table = readme.slice(start, readme.indexOf('\n## ', start + 5));
  return table
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .flatMap((l) => {
      const [, names = '', fallback = ''] = l.split('|');
      return [...names.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => ({ name: m[1]!, fallback: fallback.trim() }));
    });
}

describe('npm run dev: the configuration names it passes from the environment', () => {
  it('are exactly the variables the README Configuration table documents (bindings aside), derived from src/config.ts', () => {
    const passed = execFileSync(process.execPath, ['scripts/dev.mjs', '--list-vars'], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n');
    const rows = documented();
    // MEDIA, JOBS, METRICS are bindings (wrangler.toml), not variables: their default reads "bound" / "unbound".
    const bindings = rows.filter((r) => /^(un)?bound$/.test(r.fallback)).map((r) => r.name);
    expect(bindings.sort()).toEqual(['JOBS', 'MEDIA', 'METRICS']);
    const variables = rows.map((r) => r.name).filter((n) => !bindings.includes(n));
    expect(variables.length).toBeGreaterThan(30);
    expect([...passed].sort()).toEqual([...new Set(variables)].sort());
  });
});

describe('npm run dev with settings and secrets in the environment', () => {
  const secrets = {
    ADMIN_TOKEN: `adm-${randomUUID()}`,
    SIGNING_SECRET: `sig-${randomUUID()}-${randomUUID()}`,
    FAL_KEY: `fal-${randomUUID()}`,
    TEST_API_KEY: `phi_test_${randomUUID().replaceAll('-', '')}`,
  };
  let dev: DevServer;
  let tmp = '';
  let dump = '';
  let started = 0;
  const admin = () => ({ authorization: `Bearer ${secrets.ADMIN_TOKEN}`, 'content-type': 'application/json' });

  beforeAll(async () => {
    // Its own TMPDIR, so every file it (Miniflare, workerd) writes there can be inspected.
    tmp = mkdtempSync(path.join(os.tmpdir(), 'phi-dev-env-'));
    dump = path.join(tmp, 'workerd-config.json');
    started = Date.now() - 1_000;
    dev = await startDev({
      ...secrets,
      TMPDIR: tmp,
      // Miniflare's debugging dump of workerd's configuration: a file that holds every secret.
      MINIFLARE_WORKERD_CONFIG_DEBUG: dump,
      ALLOW_INSECURE_URLS: 'true',
      CORS_ORIGINS: 'https://app.example',
      MODEL_ALIASES: '{"house-style":"krea-2"}',
      PRICE_MARGIN_BPS: '2000',
      TEST_KEY_RPM: '3',
    });
  });

  afterAll(async () => {
    await dev?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('applies them: the admin token, the test key, insecure URLs, CORS, aliases, margin and rate limit', async () => {
    const base = dev.base;
    expect((await fetch(`${base}/admin/keys`, { method: 'POST', headers: { authorization: 'Bearer dev-admin-token' }, body: '{}' })).status).toBe(401);
    const issued = await fetch(`${base}/admin/keys`, { method: 'POST', headers: admin(), body: JSON.stringify({ tier: 'paid', account: 'env-1' }) });
    expect(issued.status).toBe(201);
    // ALLOW_INSECURE_URLS=true: an http loopback webhook endpoint is accepted (refused with a 400 by default).
    const hook = await fetch(`${base}/admin/accounts/env-1/webhook`, { method: 'PUT', headers: admin(), body: JSON.stringify({ url: 'http://127.0.0.1:9/hook' }) });
    expect(hook.status, await hook.clone().text()).toBe(200);
    // TEST_API_KEY and TEST_KEY_RPM.
    const acct = await fetch(`${base}/v1/account`, { headers: { authorization: `Bearer ${secrets.TEST_API_KEY}` } });
    expect(acct.status).toBe(200);
    expect(((await acct.json()) as { rate_limit: { rpm: number } }).rate_limit.rpm).toBe(3);
    // CORS_ORIGINS.
    const pre = await fetch(`${base}/v1/models`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' } });
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example');
    // MODEL_ALIASES.
    expect(await (await fetch(`${base}/v1/models/house-style`)).json()).toMatchObject({ id: 'house-style', resolves_to: 'krea-2' });
    // PRICE_MARGIN_BPS=2000: krea-2's 30000 µ$ base price plus 20 % (33000 at the default 10 %).
    const { data } = (await (await fetch(`${base}/v1/pricing`)).json()) as { data: { model: string; price_micro: number }[] };
    expect(data.find((p) => p.model === 'krea-2')?.price_micro).toBe(36_000);
  });

  it('puts no secret on any command line, in its output, or in a file others can read', async () => {
    const values = Object.values(secrets);
    const pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
    const read = (file: string) => {
      try {
        return readFileSync(file, 'latin1');
      } catch {
        return null; // gone meanwhile, or not ours to read
      }
    };
    let workerd = 0;
    for (const pid of pids) {
      const cmdline = read(`/proc/${pid}/cmdline`);
      if (cmdline === null) continue;
      for (const v of values) expect(cmdline.includes(v), `a secret on the command line of pid ${pid}`).toBe(false);
      // The process group of npm run dev holds workerd (so this looked where the bindings go).
      const stat = read(`/proc/${pid}/stat`);
      const pgrp = stat && Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (pgrp === dev.pid && /workerd\0serve\0/.test(cmdline)) {
        workerd++;
        expect(cmdline).toContain('\0-\0'); // the configuration, bindings included, is read from stdin
      }
    }
    expect(workerd).toBeGreaterThan(0);
    for (const v of values) expect(dev.output().includes(v), 'a secret in the output of npm run dev').toBe(false);
    expect(dev.output()).toContain('(your ADMIN_TOKEN: not printed)');

    // Every file written since it started, in its TMPDIR, its state directory and the checkout's .wrangler/.
    const files: string[] = [];
    const walk = (dir: string) => {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile() && statSync(p).mtimeMs >= started) files.push(p);
      }
    };
    for (const dir of [tmp, dev.state, path.join(ROOT, '.wrangler')]) walk(dir);
    const holding = files.filter((f) => {
      const text = read(f);
      return text !== null && values.some((v) => text.includes(v));
    });
    // The one file holding secrets is Miniflare's configuration dump (dev.mjs creates it 0600 first).
    expect(holding).toEqual([dump]);
    for (const f of holding) expect((statSync(f).mode & 0o777).toString(8), f).toBe('600');
  });

  it('serves the V8 inspector of workerd on INSPECTOR_PORT (Chrome DevTools)', async () => {
    const targets = (await (await fetch(`${dev.inspectorBase}/json/list`)).json()) as { id: string; webSocketDebuggerUrl: string }[];
    const gateway = targets.find((t) => t.id === 'core:user:phi-gateway');
    expect(gateway?.webSocketDebuggerUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\//);
  });
});
