// The local dev server as users run it (`npm run dev`: workerd via Miniflare + the fal and ComfyUI stand-ins): an oversized
// chunked body gets its 413 and the server keeps serving (answering before the body was read used to take
// wrangler dev down); the README walkthrough runs literally and spends exactly what it says; the OpenAI SDK uploads
// files as Node users do.
import { execFileSync, spawnSync } from 'node:child_process';
import fs, { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import OpenAI from 'openai';
import { Validator } from '@seriousme/openapi-schema-validator';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browser, ROOT, SHOTS, startDev, type DevServer } from './dev';

let dev: DevServer;
let base = '';
let falBase = '';
const output = () => dev.output();

beforeAll(async () => {
  dev = await startDev();
  base = dev.base;
  falBase = dev.falBase;
});

afterAll(() => dev?.stop());

/** A body sent in chunks (no Content-Length), `size` bytes of it. */
const chunked = (size: number) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (let sent = 0; sent < size; sent += 64 * 1024) c.enqueue(new Uint8Array(64 * 1024));
      c.close();
    },
  });

describe('npm run dev under oversized bodies', () => {
  it.each([
    ['/v1/images/generations', 2 * 1024 * 1024, 'chunked'],
    ['/admin/keys', 200 * 1024, 'chunked'],
    ['/v1/videos', 3 * 1024 * 1024, 'chunked'],
    ['/v1/images/generations', 2 * 1024 * 1024, 'declared'],
  ])('POST %s with %i bytes (%s) → 413 envelope, and the server keeps serving', async (route, size, mode) => {
    const body = mode === 'chunked' ? chunked(size) : new Uint8Array(size);
    const res = await fetch(`${base}${route}`, { method: 'POST', body, headers: { 'content-type': 'application/json' }, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    const { error } = (await res.json()) as { error: { code: string } };
    expect(error.code).toBe('payload_too_large');
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    if (route.startsWith('/v1/')) expect(res.headers.get('x-phi-tier')).toBe('non_phi');
    await new Promise((r) => setTimeout(r, 300));
    expect(dev.exited(), output()).toBeUndefined();
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('still generates afterwards: a key, an image, its bytes', async () => {
    const issued = await fetch(`${base}/admin/keys`, {
      method: 'POST',
      headers: { authorization: 'Bearer dev-admin-token', 'content-type': 'application/json' },
      body: JSON.stringify({ tier: 'paid', credits_micro: 100_000 }),
    });
    expect(issued.status).toBe(201);
    const { key } = (await issued.json()) as { key: string };
    const res = await fetch(`${base}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'a calm clinic waiting room, soft light' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-phi-cost-micro')).toBe('33000');
    const { data } = (await res.json()) as { data: { url: string }[] };
    const png = new Uint8Array(await (await fetch(data[0]!.url)).arrayBuffer());
    expect([...png.slice(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
  });
});

const sh = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const pngSize = (b: Buffer) => ({ width: b.readUInt32BE(16), height: b.readUInt32BE(20) });
const isPng = (b: Buffer) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
const isMp4 = (b: Buffer) => b.subarray(4, 8).toString('latin1') === 'ftyp';

/** A scratch directory where `node scripts/samples.mjs` works as it does in the checkout. */
function scratch(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'phi-walkthrough-'));
  symlinkSync(path.join(ROOT, 'scripts'), path.join(dir, 'scripts'));
  return dir;
}

describe('the README walkthrough, run literally', () => {
  it('every command of "Try it (local)" succeeds against npm run dev, and produces what it says', async () => {
    for (const tool of ['curl', 'jq']) {
      if (!sh(tool)) throw new Error(`${tool} is not installed (npm test installs it with apt: scripts/ensure-tools.mjs)`);
    }
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Try it (local)'), readme.indexOf('\n## ', readme.indexOf('## Try it (local)') + 5));
    const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBeDefined();
    const dir = scratch();
    try {
      const run = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', block!], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...process.env, BASE: base, PATH: `${path.join(ROOT, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH}` },
      });
      expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
      // Both videos completed; PHI answered 403; the account paid for image, edit, video and avatar only (the
      // remix was deleted while it ran, the test key is free).
      expect(run.stdout.match(/^completed$/gm)).toHaveLength(2);
      expect(run.stdout).toMatch(/^403$/m);
      const spent = JSON.parse(/\{\n {2}"spent_micro"[\s\S]*?\n\}/.exec(run.stdout)![0]) as Record<string, number>;
      expect(spent.charges).toBe(4);
      // What it spent, exactly: every credit the block grants (the key's credits_micro, the top-up's amount_micro)
      // less the balance it leaves, with nothing still held — and the README's "(it spends $X" states exactly that.
      const granted = [...block!.matchAll(/"(?:credits|amount)_micro":(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
      expect(granted).toBe(5_500_000);
      // A fresh connection if the pool's idle one was closed meanwhile (as in the tests below).
      const account = () => fetch(`${base}/admin/accounts/clinic-1`, { headers: { authorization: 'Bearer dev-admin-token' } });
      const after = (await (await account().catch(account)).json()) as { balance_micro: number; held_micro: number };
      expect(after.held_micro).toBe(0);
      const cost = granted - after.balance_micro;
      expect(cost).toBe(spent.spent_micro);
      const claim = /\(it spends \$(\d+)(?:\.(\d{1,6}))?\)/.exec(block!);
      expect(claim, 'the walkthrough says "(it spends $<dollars>)"').not.toBeNull();
      const claimed = Number(claim![1]) * 1_000_000 + Number((claim![2] ?? '').padEnd(6, '0'));
      expect(claimed, `README says it spends $${claim![1]}.${claim![2] ?? ''}; it spent ${cost} µ$`).toBe(cost);
      for (const f of ['waiting-room.png', 'watercolour.png', 'lighthouse.png']) expect(isPng(readFileSync(path.join(dir, f))), f).toBe(true);
      expect(pngSize(readFileSync(path.join(dir, 'waiting-room.png')))).toEqual({ width: 1024, height: 1024 });
      expect(pngSize(readFileSync(path.join(dir, 'watercolour.png')))).toEqual({ width: 512, height: 512 });
      for (const f of ['lobby.mp4', 'nurse.mp4']) {
        const mp4 = readFileSync(path.join(dir, f));
        expect(isMp4(mp4), f).toBe(true);
        // Real players decode it (checked with ffmpeg where the machine has it).
        if (sh('ffmpeg')) execFileSync('ffmpeg', ['-v', 'error', '-i', path.join(dir, f), '-f', 'null', '-']);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the OpenAI SDK from Node, files as Node users have them', () => {
  it('fs.createReadStream and fs.openAsBlob uploads (no content type) are typed by their bytes', async () => {
    const dir = scratch();
    try {
      execFileSync(process.execPath, ['scripts/samples.mjs'], { cwd: dir });
      // A fresh connection: wrangler dev may have closed the idle keep-alive one the pool would reuse.
      const issue = () =>
        fetch(`${base}/admin/keys`, {
          method: 'POST',
          headers: { authorization: 'Bearer dev-admin-token', 'content-type': 'application/json' },
          body: JSON.stringify({ tier: 'paid', credits_micro: 2_000_000 }),
        });
      const issued = await issue().catch(issue);
      const { key } = (await issued.json()) as { key: string };
      const client = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 1 });
      const portrait = path.join(dir, 'samples', 'portrait.png');
      const voice = path.join(dir, 'samples', 'voice.wav');
      const streamed = await client.images.edit({ image: fs.createReadStream(portrait), prompt: 'in watercolour' });
      expect(streamed.data).toHaveLength(1);
      const blob = await client.images.edit({ image: await fs.openAsBlob(portrait), prompt: 'in pencil' });
      expect(blob.data).toHaveLength(1);
      const video = await client.videos.create({
        prompt: 'a nurse says hello',
        input_reference: fs.createReadStream(portrait),
        audio: await fs.openAsBlob(voice),
        seconds: '4',
      } as never);
      expect(video).toMatchObject({ model: 'avatar', status: 'queued', seconds: '4.04' }); // what is made: 101 frames at 25 fps
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('completion without polling, in npm run dev', () => {
  it("a paid video nobody polls is ended by fal's webhook (delivered to the dev server, verified) and the watcher, charged once", async () => {
    const admin = { authorization: 'Bearer dev-admin-token', 'content-type': 'application/json' };
    const issue = () => fetch(`${base}/admin/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ tier: 'paid', credits_micro: 1_000_000 }) });
    const { key, account } = (await (await issue().catch(issue)).json()) as { key: string; account: string };
    const res = await fetch(`${base}/v1/videos`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'wan', prompt: 'an unpolled lobby pan', seconds: '4' }),
    });
    expect(res.status).toBe(200);
    const balance = async () => (await (await fetch(`${base}/admin/accounts/${account}`, { headers: admin })).json()) as { balance_micro: number; held_micro: number; charges: number };
    for (let i = 0; ; i++) {
      const b = await balance();
      if (b.charges === 1) {
        expect(b).toMatchObject({ balance_micro: 637_000, held_micro: 0 });
        break;
      }
      if (i > 60) throw new Error(`never charged: ${JSON.stringify(b)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    // The stand-in's webhook reached the dev server and was accepted (signature verified against its JWKS).
    const hooks = (await (await fetch(`${falBase}/__webhooks`)).json()) as { url: string; attempts: { status?: number }[] }[];
    const ours = hooks.filter((h) => h.url.startsWith(`${base}/v1/hooks/fal/`));
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.some((h) => h.attempts.some((a) => a.status === 200))).toBe(true);
    expect((await balance()).charges).toBe(1);
  });
});

describe('the API document', () => {
  it('/openapi.json is a valid OpenAPI 3.1 document (checked against the official JSON Schema)', async () => {
    const doc = await (await fetch(`${base}/openapi.json`)).json();
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? [], String(JSON.stringify(result.errors)).slice(0, 2000)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });
});

describe('pages in a real browser (Debian chromium + playwright-core)', () => {
  const shots = SHOTS;

  it('/docs renders every operation of /openapi.json, with nothing fetched from elsewhere and no CSP violation', async () => {
    const b = await browser();
    if (!b) return;
    try {
      const page = await b.newPage();
      const problems: string[] = [];
      const origins = new Set<string>();
      page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      page.on('pageerror', (e) => problems.push(String(e)));
      page.on('request', (r) => origins.add(new URL(r.url()).origin));
      await page.goto(`${base}/docs`);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
      const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
      const operations = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
      expect(await page.locator('section.op').count()).toBe(operations);
      expect(await page.locator('section.op[data-method="POST"][data-path="/v1/images/generations"]').count()).toBe(1);
      // The page's own script is not an API operation.
      expect(await page.locator('section.op[data-path="/docs.js"]').count()).toBe(0);
      expect([...origins]).toEqual([base]);
      expect(problems).toEqual([]);
      fs.mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: path.join(shots, 'docs.png'), fullPage: false });
    } finally {
      await b.close();
    }
  });
});
