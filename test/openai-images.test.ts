// Issue 19 (images): OpenAI's own documented image requests run unchanged against the gateway.
//
// The curl examples below are copied verbatim from OpenAI's API reference, as published in its OpenAPI document
// (github.com/openai/openai-openapi, openapi.yaml at commit f85dbe223d40e1a31cba812ab2d755c7e98a92a3, 2026-08-21:
// paths./images/generations.post and paths./images/edits.post, x-oaiMeta.examples[*].request.curl — the text of
// platform.openai.com/docs/api-reference/images). They are run by a small interpreter of exactly the shell they use
// (curl's -H -d -F -X -s -N -D -o, process substitution, jq -r PATH, base64 --decode, > FILE), with only the base
// URL changed, as an OpenAI customer would. The files they write are decoded (PNG/JPEG/WebP structure and size).
// Then the real `openai` SDK, and a property test over the documented parameter space on both tiers: every
// combination is served (charged exactly) or refused with a 400 naming one of the parameters that cannot be
// served (charging nothing); never a 5xx.
import fc from 'fast-check';
import OpenAI, { toFile } from 'openai';
import { describe, expect, inject, it } from 'vitest';
import { BASE, falOrigin, gateway, standinCalls, TEST_API_KEY, uniq, workerOrigin, type Gateway } from './helpers';

const roomy = { TEST_KEY_RPM: '100000' };
const IMAGE_MICRO = 33_000;

// ------------------------------------------------------------------------------------------ image files

const enc = new TextEncoder();
const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (b: Uint8Array) => {
  let c = 0xffffffff;
  for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const cat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
};
const through = async (bytes: Uint8Array, t: CompressionStream | DecompressionStream) => new Uint8Array(await new Response(new Blob([bytes]).stream().pipeThrough(t)).arrayBuffer());

/** A real RGB PNG of w x h, one colour (a product photo stand-in for the documented edit example). */
async function pngFile(w: number, h: number, rgb: [number, number, number]): Promise<Uint8Array> {
  const chunk = (type: string, data: Uint8Array) => {
    const td = cat([enc.encode(type), data]);
    const out = new Uint8Array(12 + data.length);
    new DataView(out.buffer).setUint32(0, data.length);
    out.set(td, 4);
    new DataView(out.buffer).setUint32(8 + data.length, crc32(td));
    return out;
  };
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, w);
  new DataView(ihdr.buffer).setUint32(4, h);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const raw = new Uint8Array(h * (1 + 3 * w));
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(rgb, y * (1 + 3 * w) + 1 + 3 * x);
  const sig = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
  return cat([sig, chunk('IHDR', ihdr), chunk('IDAT', await through(raw, new CompressionStream('deflate'))), chunk('IEND', new Uint8Array(0))]);
}

interface Decoded {
  format: 'png' | 'jpeg' | 'webp';
  width: number;
  height: number;
}

const ascii = (b: Uint8Array, at: number, s: string) => [...s].every((ch, i) => b[at + i] === ch.charCodeAt(0));

/**
 * Checks a file decodes as what its magic says, and returns its format and size. PNG: every chunk's CRC, IHDR
 * first, IEND last, and the IDAT stream inflates to exactly height x (1 + width x channels) bytes of rows with a
 * valid filter byte. JPEG: SOI, well-formed segments up to SOS with quantisation and Huffman tables and a frame
 * header, entropy-coded data (only stuffed 0xFF00 and RSTn inside) ending in EOI. WebP: RIFF length and a
 * VP8/VP8L/VP8X header.
 */
async function decode(b: Uint8Array): Promise<Decoded> {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (ascii(b, 0, '\x89PNG\r\n\x1a\n')) {
    let p = 8;
    const idat: Uint8Array[] = [];
    let ihdr: Uint8Array | null = null;
    for (;;) {
      const len = v.getUint32(p);
      const type = String.fromCharCode(...b.subarray(p + 4, p + 8));
      const body = b.subarray(p + 8, p + 8 + len);
      expect(v.getUint32(p + 8 + len), `PNG ${type} CRC`).toBe(crc32(b.subarray(p + 4, p + 8 + len)));
      if (p === 8) expect(type).toBe('IHDR');
      if (type === 'IHDR') ihdr = body;
      if (type === 'IDAT') idat.push(body);
      p += 12 + len;
      if (type === 'IEND') break;
    }
    expect(p).toBe(b.length);
    const iv = new DataView(ihdr!.buffer, ihdr!.byteOffset);
    const [width, height, depth, colour] = [iv.getUint32(0), iv.getUint32(4), ihdr![8]!, ihdr![9]!];
    expect(depth).toBe(8);
    const channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[colour]!;
    const raw = await through(cat(idat), new DecompressionStream('deflate'));
    const stride = 1 + width * channels;
    expect(raw.length).toBe(height * stride);
    for (let y = 0; y < height; y++) expect(raw[y * stride]!).toBeLessThanOrEqual(4);
    return { format: 'png', width, height };
  }
  if (b[0] === 0xff && b[1] === 0xd8) {
    let p = 2;
    let frame: { width: number; height: number } | null = null;
    const seen = new Set<number>();
    for (;;) {
      expect(b[p], `JPEG marker at ${p}`).toBe(0xff);
      const m = b[p + 1]!;
      const len = v.getUint16(p + 2);
      seen.add(m);
      if (m >= 0xc0 && m <= 0xc2) frame = { height: v.getUint16(p + 5), width: v.getUint16(p + 7) };
      p += 2 + len;
      if (m === 0xda) break;
    }
    expect(seen.has(0xdb) && seen.has(0xc4) && frame !== null, 'DQT, DHT and SOF before SOS').toBe(true);
    for (; p < b.length - 2; p++) {
      if (b[p] !== 0xff) continue;
      const next = b[p + 1]!;
      expect(next === 0x00 || (next >= 0xd0 && next <= 0xd7), `a marker (0xff${next.toString(16)}) inside the scan`).toBe(true);
      p++;
    }
    expect([b[b.length - 2], b[b.length - 1]]).toEqual([0xff, 0xd9]);
    return { format: 'jpeg', ...frame! };
  }
  if (ascii(b, 0, 'RIFF') && ascii(b, 8, 'WEBP')) {
    expect(v.getUint32(4, true) + 8).toBe(b.length);
    if (ascii(b, 12, 'VP8X')) return { format: 'webp', width: 1 + (v.getUint32(24, true) & 0xffffff), height: 1 + (v.getUint32(27, true) & 0xffffff) };
    if (ascii(b, 12, 'VP8L')) {
      const bits = v.getUint32(21, true);
      return { format: 'webp', width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff) };
    }
    expect(ascii(b, 12, 'VP8 ')).toBe(true);
    return { format: 'webp', width: v.getUint16(26, true) & 0x3fff, height: v.getUint16(28, true) & 0x3fff };
  }
  throw new Error(`not an image file (${b.length} bytes starting ${[...b.subarray(0, 8)].map((x) => x.toString(16)).join(' ')})`);
}

const b64bytes = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

// ------------------------------------------------------------------------------------------ the documented curls

/** paths./images/generations.post x-oaiMeta.examples[0] ("Generate image"). */
const CURL_GENERATE = `curl https://api.openai.com/v1/images/generations \\
  -H "Content-Type: application/json" \\
  -H "Authorization: Bearer $OPENAI_API_KEY" \\
  -d '{
    "model": "gpt-image-1.5",
    "prompt": "A cute baby sea otter",
    "n": 1,
    "size": "1024x1024"
  }'`;

/** paths./images/generations.post x-oaiMeta.examples[1] ("Streaming"). */
const CURL_GENERATE_STREAM = `curl https://api.openai.com/v1/images/generations \\
  -H "Content-Type: application/json" \\
  -H "Authorization: Bearer $OPENAI_API_KEY" \\
  -d '{
    "model": "gpt-image-1.5",
    "prompt": "A cute baby sea otter",
    "n": 1,
    "size": "1024x1024",
    "stream": true
  }' \\
  --no-buffer`;

/** paths./images/edits.post x-oaiMeta.examples[0] ("Edit image"). */
const CURL_EDIT = `curl -s -D >(grep -i x-request-id >&2) \\
  -o >(jq -r '.data[0].b64_json' | base64 --decode > gift-basket.png) \\
  -X POST "https://api.openai.com/v1/images/edits" \\
  -H "Authorization: Bearer $OPENAI_API_KEY" \\
  -F "model=gpt-image-1.5" \\
  -F "image[]=@body-lotion.png" \\
  -F "image[]=@bath-bomb.png" \\
  -F "image[]=@incense-kit.png" \\
  -F "image[]=@soap.png" \\
  -F 'prompt=Create a lovely gift basket with these four items in it'`;

/** paths./images/edits.post x-oaiMeta.examples[1] ("Streaming"). */
const CURL_EDIT_STREAM = `curl -s -N -X POST "https://api.openai.com/v1/images/edits" \\
  -H "Authorization: Bearer $OPENAI_API_KEY" \\
  -F "model=gpt-image-1.5" \\
  -F "image[]=@body-lotion.png" \\
  -F "image[]=@bath-bomb.png" \\
  -F "image[]=@incense-kit.png" \\
  -F "image[]=@soap.png" \\
  -F 'prompt=Create a lovely gift basket with these four items in it' \\
  -F "stream=true"`;

/** How the issue's customer saved the generated image: the curl above, piped on. */
const SAVE_AS_OUT_PNG = ` | jq -r '.data[0].b64_json' | base64 --decode > out.png`;

/** Shell words: quotes ('…' literal, "…" with $VAR), backslash-newline, >( … ) kept whole, top-level | and >. */
function words(cmd: string, vars: Record<string, string>): string[] {
  const out: string[] = [];
  let cur: string | null = null;
  const push = () => {
    if (cur !== null) out.push(cur);
    cur = null;
  };
  for (let i = 0; i < cmd.length; i++) {
    const ch = cmd[i]!;
    if (ch === '\\' && cmd[i + 1] === '\n') {
      i++;
      continue;
    }
    if (/\s/.test(ch)) {
      push();
      continue;
    }
    if (ch === "'") {
      const end = cmd.indexOf("'", i + 1);
      cur = (cur ?? '') + cmd.slice(i + 1, end);
      i = end;
    } else if (ch === '"') {
      const end = cmd.indexOf('"', i + 1);
      cur = (cur ?? '') + cmd.slice(i + 1, end).replace(/\$([A-Z_]+)/g, (_, n: string) => vars[n] ?? '');
      i = end;
    } else if (ch === '>' && cmd[i + 1] === '(') {
      let depth = 0;
      let j = i + 1;
      for (; j < cmd.length; j++) {
        if (cmd[j] === '(') depth++;
        if (cmd[j] === ')' && --depth === 0) break;
      }
      push();
      out.push(`>(${cmd.slice(i + 2, j)})`);
      i = j;
    } else if ((ch === '|' || ch === '>') && cur === null) {
      out.push(ch === '>' && cmd[i + 1] === '&' ? `>&${cmd[(i += 2)]}` : ch);
    } else cur = (cur ?? '') + ch;
  }
  push();
  return out;
}

/** Runs a pipeline of jq -r PATH / base64 --decode / > FILE over `input`; returns stdout. */
function pipeline(stages: string[][], input: Uint8Array | string, files: Map<string, Uint8Array>, stderr: string[]): Uint8Array | string {
  let data = input;
  for (const stage of stages) {
    const [cmd, ...args] = stage;
    const redirect = args.indexOf('>');
    const target = redirect >= 0 ? args[redirect + 1] : undefined;
    const argv = redirect >= 0 ? args.slice(0, redirect) : args;
    if (cmd === 'jq') {
      expect(argv[0]).toBe('-r');
      let value: unknown = JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data));
      for (const [, key, index] of argv[1]!.matchAll(/\.([a-z_0-9]+)(?:\[(\d+)\])?/g)) {
        value = value == null ? null : (value as Record<string, unknown>)[key!];
        if (index !== undefined) value = value == null ? null : (value as unknown[])[Number(index)];
      }
      data = typeof value === 'string' ? `${value}\n` : `${JSON.stringify(value ?? null)}\n`;
    } else if (cmd === 'base64') {
      expect(argv).toEqual(['--decode']);
      data = b64bytes(String(data).trim());
    } else if (cmd === 'grep') {
      expect(argv.slice(0, 1)).toEqual(['-i']);
      const re = new RegExp(argv[1]!, 'i');
      const hit = String(data).split('\n').filter((l) => re.test(l)).join('\n');
      if (argv.includes('>&2') || args.includes('>&2')) stderr.push(hit);
      data = hit;
    } else throw new Error(`the interpreter does not know ${cmd}`);
    if (target) {
      files.set(target, typeof data === 'string' ? enc.encode(data) : data);
      data = '';
    }
  }
  return data;
}

interface CurlRun {
  status: number;
  headers: Headers;
  stdout: Uint8Array | string;
  stderr: string[];
  files: Map<string, Uint8Array>;
}

/** Runs a documented curl command line against the gateway (the only change: api.openai.com → its base URL). */
async function runCurl(gw: Gateway, cmdline: string, key: string, inputs: Record<string, Uint8Array>): Promise<CurlRun> {
  const all = words(cmdline, { OPENAI_API_KEY: key });
  const stages: string[][] = [[]];
  for (const w of all) (w === '|' ? stages.push([]) : stages[stages.length - 1]!.push(w), 0);
  const [curl, ...rest] = stages;
  expect(curl![0]).toBe('curl');
  let method: string | undefined;
  let url = '';
  let data: string | undefined;
  const headers = new Headers();
  const form = new FormData();
  let multipart = false;
  let dump: string | undefined;
  let output: string | undefined;
  const args = curl!.slice(1);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-s' || a === '-N' || a === '--no-buffer') continue;
    if (a === '-X') method = args[++i];
    else if (a === '-H') {
      const h = args[++i]!;
      headers.append(h.slice(0, h.indexOf(':')).trim(), h.slice(h.indexOf(':') + 1).trim());
    } else if (a === '-d') data = args[++i];
    else if (a === '-F') {
      multipart = true;
      const f = args[++i]!;
      const [name, value] = [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)];
      if (value.startsWith('@')) {
        const file = value.slice(1);
        expect(inputs[file], `input file ${file}`).toBeDefined();
        form.append(name, new File([inputs[file]!], file, { type: file.endsWith('.png') ? 'image/png' : 'application/octet-stream' }));
      } else form.append(name, value);
    } else if (a === '-D') dump = args[++i];
    else if (a === '-o') output = args[++i];
    else if (!a.startsWith('-')) url = a;
    else throw new Error(`the interpreter does not know curl ${a}`);
  }
  expect(url.startsWith('https://api.openai.com/v1/')).toBe(true);
  const res = await gw.fetch(url.replace('https://api.openai.com', BASE), {
    method: method ?? (data !== undefined || multipart ? 'POST' : 'GET'),
    headers,
    body: multipart ? form : data,
  });
  const text = (res.headers.get('content-type') ?? '').startsWith('image/') ? new Uint8Array(await res.arrayBuffer()) : await res.text();
  const files = new Map<string, Uint8Array>();
  const stderr: string[] = [];
  const sub = (target: string | undefined, input: string | Uint8Array) => {
    if (!target?.startsWith('>(')) return false;
    pipeline(words(target.slice(2, -1), {}).reduce<string[][]>((acc, w) => (w === '|' ? acc.push([]) : acc[acc.length - 1]!.push(w), acc), [[]]), input, files, stderr);
    return true;
  };
  if (dump) sub(dump, [`HTTP/1.1 ${res.status}`, ...[...res.headers].map(([k, v]) => `${k}: ${v}`)].join('\n'));
  let stdout: Uint8Array | string = '';
  if (!sub(output, text)) stdout = rest.length ? pipeline(rest, text, files, stderr) : text;
  return { status: res.status, headers: res.headers, stdout, stderr, files };
}

/** Server-sent events: [{event, data}] from an event-stream body. */
function events(body: string): { event: string; data: Record<string, unknown> }[] {
  return body
    .split('\n\n')
    .filter((block) => block.trim())
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))!.slice(7);
      const data = JSON.parse(lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n')) as Record<string, unknown>;
      return { event, data };
    });
}

const PRODUCTS: Record<string, [number, number, number]> = {
  'body-lotion.png': [240, 220, 200],
  'bath-bomb.png': [200, 120, 180],
  'incense-kit.png': [120, 90, 60],
  'soap.png': [180, 230, 210],
};
const productFiles = async () => Object.fromEntries(await Promise.all(Object.entries(PRODUCTS).map(async ([name, rgb]) => [name, await pngFile(320, 320, rgb)] as const)));

const falCalls = (since: number, path: string) => standinCalls(falOrigin(), (c) => c.at >= since && c.path === `/fal/run/${path}`);

describe("OpenAI's documented curl examples, run unchanged", () => {
  it('Create image (gpt-image-1.5), saved with jq | base64 --decode: a 1024x1024 PNG, as b64_json by default; charged once', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const run = await runCurl(gw, CURL_GENERATE + SAVE_AS_OUT_PNG, key, {});
    expect(run.status).toBe(200);
    const file = run.files.get('out.png')!;
    expect(file.length, 'not the 3-byte file of issue 19').toBeGreaterThan(1000);
    expect(await decode(file)).toEqual({ format: 'png', width: 1024, height: 1024 });
    expect(run.headers.get('x-phi-cost-micro')).toBe(String(IMAGE_MICRO));
    expect(await gw.balance(account)).toMatchObject({ spent_micro: IMAGE_MICRO, charges: 1 });
    // and the JSON itself carries what OpenAI's does
    const plain = await runCurl(gw, CURL_GENERATE, key, {});
    const body = JSON.parse(String(plain.stdout)) as Record<string, unknown>;
    expect(body).toMatchObject({ output_format: 'png', size: '1024x1024', quality: 'medium', background: 'opaque' });
    expect(typeof body.created).toBe('number');
    expect(Object.keys((body.data as object[])[0]!)).toEqual(['b64_json']);
  });

  it('Create image on the free test key: the same command, a 1024x1024 PNG from the worker, $0', async () => {
    const gw = gateway(roomy);
    const run = await runCurl(gw, CURL_GENERATE + SAVE_AS_OUT_PNG, TEST_API_KEY, {});
    expect(run.status).toBe(200);
    expect(run.headers.get('x-phi-cost-micro')).toBe('0');
    expect(await decode(run.files.get('out.png')!)).toEqual({ format: 'png', width: 1024, height: 1024 });
  });

  it('Create image, streaming: one image_generation.completed event whose b64_json is the PNG', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const run = await runCurl(gw, CURL_GENERATE_STREAM, key, {});
    expect(run.status).toBe(200);
    expect(run.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const evs = events(String(run.stdout));
    expect(evs.map((e) => e.event)).toEqual(['image_generation.completed']);
    expect(evs[0]!.data).toMatchObject({ type: 'image_generation.completed', size: '1024x1024', quality: 'medium', background: 'opaque', output_format: 'png' });
    expect(await decode(b64bytes(evs[0]!.data.b64_json as string))).toEqual({ format: 'png', width: 1024, height: 1024 });
    expect(await gw.balance(account)).toMatchObject({ spent_micro: IMAGE_MICRO, charges: 1 });
  });

  it('Create image edit with four image[] parts: the x-request-id on stderr, gift-basket.png a real PNG; the four go to the multi-image model', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const since = Date.now();
    const run = await runCurl(gw, CURL_EDIT, key, await productFiles());
    expect(run.status).toBe(200);
    expect(run.stderr.join('\n')).toMatch(/^x-request-id: req_/);
    expect(await decode(run.files.get('gift-basket.png')!)).toEqual({ format: 'png', width: 1024, height: 1024 });
    const [call] = await falCalls(since, 'fal-ai/flux-pro/kontext/multi');
    const body = call!.body as { image_urls: string[]; prompt: string; num_images: number; output_format: string };
    expect(body).toMatchObject({ prompt: 'Create a lovely gift basket with these four items in it', num_images: 1, output_format: 'png' });
    expect(body.image_urls).toHaveLength(4);
    for (const u of body.image_urls) expect(u).toMatch(/^data:image\/png;base64,/);
    expect(await gw.balance(account)).toMatchObject({ spent_micro: IMAGE_MICRO, charges: 1 });
  });

  it('Create image edit, streaming: one image_edit.completed event', async () => {
    const gw = gateway();
    const { key } = await gw.issueKey({ credits_micro: 1_000_000 });
    const run = await runCurl(gw, CURL_EDIT_STREAM, key, await productFiles());
    expect(run.status).toBe(200);
    const evs = events(String(run.stdout));
    expect(evs.map((e) => e.event)).toEqual(['image_edit.completed']);
    expect(evs[0]!.data).toMatchObject({ type: 'image_edit.completed', size: '1024x1024', output_format: 'png', background: 'opaque' });
    expect((await decode(b64bytes(evs[0]!.data.b64_json as string))).format).toBe('png');
  });

  it('Create image edit on the free test key: four images are a clear 400 naming image (the worker edits one)', async () => {
    const gw = gateway(roomy);
    const since = Date.now();
    const run = await runCurl(gw, CURL_EDIT, TEST_API_KEY, await productFiles());
    expect(run.status).toBe(400);
    // as with OpenAI, jq finds no image in an error body: the file is base64 --decode of "null" (3 bytes)
    expect(run.files.get('gift-basket.png')).toEqual(b64bytes('null'));
    const res = await gw.authed(TEST_API_KEY, '/v1/images/edits', { method: 'POST', body: await editForm(4) });
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_request', param: 'image', message: 'The free test tier edits one image at a time (4 were sent); paid keys take up to 16' } });
    expect(await standinCalls(workerOrigin(), (c) => c.at >= since && c.path.endsWith('/prompt'))).toEqual([]);
  });
});

async function editForm(count: number, fields: Record<string, string> = {}): Promise<FormData> {
  const form = new FormData();
  for (const [k, v] of Object.entries({ prompt: uniq('compose these'), ...fields })) form.append(k, v);
  const files = await productFiles();
  const names = Object.keys(files);
  for (let i = 0; i < count; i++) form.append(count === 1 ? 'image' : 'image[]', new File([files[names[i % names.length]!]!], names[i % names.length]!, { type: 'image/png' }));
  return form;
}

// ------------------------------------------------------------------------------------------ the real SDK

describe('the openai SDK', () => {
  it('images.generate with gpt-image-1 and no options returns b64_json (a PNG), as OpenAI does; dall-e-3 and krea-2 keep url', async () => {
    const gw = gateway();
    const { key } = await gw.issueKey({ credits_micro: 1_000_000 });
    const client = gw.openai(key);
    const res = await client.images.generate({ model: 'gpt-image-1', prompt: uniq('a lighthouse') });
    expect(res.data![0]!.url).toBeUndefined();
    expect(await decode(b64bytes(res.data![0]!.b64_json!))).toEqual({ format: 'png', width: 1024, height: 1024 });
    expect(res).toMatchObject({ output_format: 'png', size: '1024x1024', quality: 'medium', background: 'opaque' });
    for (const model of ['dall-e-3', 'krea-2', undefined]) {
      const r = await client.images.generate({ prompt: uniq('url default'), ...(model && { model }) });
      expect(r.data![0]!.b64_json, String(model)).toBeUndefined();
      expect(r.data![0]!.url).toMatch(/^https:\/\/gw\.test\/v1\/media\/i_[\w-]+\.png\?/);
    }
    const asked = await client.images.generate({ model: 'gpt-image-1', prompt: uniq('asks url'), response_format: 'url' });
    expect(asked.data![0]!.url).toMatch(/\/v1\/media\//);
  });

  it('images.edit({image: [a, b]}) composes both on the multi-image model, b64_json for gpt-image-1, billed per output image', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const client = gw.openai(key);
    const files = await productFiles();
    const prompt = uniq('put both on a shelf');
    const since = Date.now();
    const { data, response } = await client.images
      .edit({ model: 'gpt-image-1', image: [await toFile(files['soap.png']!, 'a.png'), await toFile(files['bath-bomb.png']!, 'b.png')], prompt, size: '1536x1024', n: 2 })
      .withResponse();
    expect(response.headers.get('x-phi-cost-micro')).toBe(String(2 * IMAGE_MICRO));
    expect(data.data).toHaveLength(2);
    for (const img of data.data!) expect(await decode(b64bytes(img.b64_json!))).toEqual({ format: 'png', width: 1248, height: 832 });
    // the size fal reports (Kontext renders ~1 MP at 3:2), not the one asked for
    expect(data).toMatchObject({ size: '1248x832', output_format: 'png', background: 'opaque' });
    expect(data.quality).toBeUndefined();
    const [call] = await falCalls(since, 'fal-ai/flux-pro/kontext/multi');
    expect(call!.body).toMatchObject({ prompt, num_images: 2, aspect_ratio: '3:2', output_format: 'png' });
    expect((call!.body as { image_urls: string[] }).image_urls).toHaveLength(2);
    expect(await gw.balance(account)).toMatchObject({ spent_micro: 2 * IMAGE_MICRO, charges: 1 });
  });

  it('images.edit with one image keeps FLUX Krea image-to-image: input_fidelity and quality become strength and steps', async () => {
    const gw = gateway();
    const { key } = await gw.issueKey({ credits_micro: 1_000_000 });
    const client = gw.openai(key);
    const prompt = uniq('warmer light');
    const since = Date.now();
    const res = await client.images.edit({ model: 'gpt-image-1', image: await toFile(await pngFile(320, 240, [90, 90, 200]), 'room.png'), prompt, input_fidelity: 'high', quality: 'high' });
    expect(await decode(b64bytes(res.data![0]!.b64_json!))).toEqual({ format: 'png', width: 320, height: 240 });
    expect(res).toMatchObject({ size: '320x240', quality: 'high' });
    const [call] = await falCalls(since, 'fal-ai/flux-1/krea/image-to-image');
    expect(call!.body).toMatchObject({ prompt, strength: 0.8, num_inference_steps: 50 });
    const wrong = await client.images.edit({ image: await toFile(await pngFile(320, 240, [1, 2, 3]), 'r.png'), prompt: uniq('x'), size: '1024x1024' }).catch((e: unknown) => e);
    expect(wrong).toMatchObject({ status: 400, error: { param: 'size', message: "'size' must be auto or 320x240 for this edit: the model keeps the input image's size, 320x240" } });
  });

  it('stream: true through the SDK yields one image_generation.completed event per image', async () => {
    const gw = gateway();
    const { key } = await gw.issueKey({ credits_micro: 1_000_000 });
    const stream = await gw.openai(key).images.generate({ model: 'gpt-image-1', prompt: uniq('streamed'), n: 2, stream: true });
    const got: OpenAI.Images.ImageGenStreamEvent[] = [];
    for await (const event of stream) got.push(event);
    expect(got.map((e) => e.type)).toEqual(['image_generation.completed', 'image_generation.completed']);
    for (const e of got) expect((await decode(b64bytes(e.b64_json))).format).toBe('png');
  });

  it('a streamed request retried with its Idempotency-Key replays the same events, charged once', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const send = () =>
      gw.authed(key, '/v1/images/generations', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'stream-once' },
        body: JSON.stringify({ model: 'gpt-image-1', prompt: 'a quiet reading room', stream: true }),
      });
    const first = await send();
    const again = await send();
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('x-phi-cost-micro')).toBe('0');
    const [a, b] = [events(await first.text()), events(await again.text())];
    expect(b).toEqual(a);
    expect(await gw.balance(account)).toMatchObject({ spent_micro: IMAGE_MICRO, charges: 1 });
  });

  it('output_format jpeg gives JPEG bytes: b64_json, a re-hosted .jpg (image/jpeg), and a passed-through fal URL', async () => {
    const gw = gateway();
    const { key } = await gw.issueKey({ credits_micro: 1_000_000 });
    const client = gw.openai(key);
    const b64 = await client.images.generate({ model: 'gpt-image-1', prompt: uniq('jpeg'), output_format: 'jpeg', size: '1536x1024' });
    expect(b64.output_format).toBe('jpeg');
    expect(await decode(b64bytes(b64.data![0]!.b64_json!))).toEqual({ format: 'jpeg', width: 1536, height: 1024 });
    const url = await client.images.generate({ model: 'dall-e-3', prompt: uniq('jpeg url'), output_format: 'jpeg' });
    expect(url.data![0]!.url).toMatch(/\/v1\/media\/i_[\w-]+\.jpg\?/);
    const file = await gw.fetch(url.data![0]!.url!);
    expect(file.headers.get('content-type')).toBe('image/jpeg');
    expect(await decode(new Uint8Array(await file.arrayBuffer()))).toEqual({ format: 'jpeg', width: 1024, height: 1024 });
    const pass = await gateway({ MEDIA: undefined }).openai(key).images.generate({ prompt: uniq('jpeg pass'), output_format: 'jpeg' });
    const upstream = await fetch(pass.data![0]!.url!);
    expect(upstream.headers.get('content-type')).toBe('image/jpeg');
    expect((await decode(new Uint8Array(await upstream.arrayBuffer()))).format).toBe('jpeg');
  });

  it('webp, transparency, a mask, 5 images per request: clear 400s naming the parameter and what is served; nothing charged', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const client = gw.openai(key, { maxRetries: 0 });
    const fail = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => (e as { status: number; error: { param: string; message: string } }));
    const prompt = uniq('refused');
    expect(await fail(client.images.generate({ model: 'gpt-image-1', prompt, output_format: 'webp' }))).toMatchObject({
      status: 400,
      error: { param: 'output_format', message: "'output_format' must be one of png, jpeg: the FLUX models behind this gateway write PNG or JPEG, not WebP" },
    });
    expect(await fail(client.images.generate({ model: 'gpt-image-1', prompt, background: 'transparent' }))).toMatchObject({ status: 400, error: { param: 'background' } });
    expect(await fail(client.images.generate({ model: 'gpt-image-1', prompt, n: 5 }))).toMatchObject({ status: 400, error: { param: 'n', message: "'n' must be an integer from 1 to 4" } });
    expect(await fail(client.images.generate({ model: 'gpt-image-1', prompt, output_compression: 80, output_format: 'jpeg' }))).toMatchObject({ status: 400, error: { param: 'output_compression' } });
    expect(await fail(client.images.generate({ model: 'dall-e-3', prompt, style: 'vivid' }))).toMatchObject({ status: 400, error: { param: 'style' } });
    expect(await fail(client.images.generate({ model: 'gpt-image-1', prompt, moderation: 'low' }))).toMatchObject({ status: 400, error: { param: 'moderation' } });
    expect(await fail(client.images.generate({ model: 'gpt-image-1', prompt, stream: true, partial_images: 2 }))).toMatchObject({ status: 400, error: { param: 'partial_images' } });
    const png = await toFile(await pngFile(256, 256, [1, 2, 3]), 'a.png');
    expect(await fail(client.images.edit({ image: png, mask: await toFile(await pngFile(256, 256, [0, 0, 0]), 'm.png'), prompt }))).toMatchObject({ status: 400, error: { param: 'mask' } });
    const json = await gw.authed(key, '/v1/images/generations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt, sise: '1024x1024' }) });
    expect(await json.json()).toMatchObject({ error: { param: 'sise', message: "'sise' is not a parameter of POST /v1/images/generations" } });
    expect(await standinCalls(falOrigin(), (c) => JSON.stringify(c.body ?? '').includes(prompt))).toEqual([]);
    expect(await gw.balance(account)).toMatchObject({ spent_micro: 0, charges: 0, held_micro: 0 });
  });

  it('FAL_IMAGE_MULTI_EDIT_MODEL=off: several images are a 400 naming image', async () => {
    const gw = gateway({ FAL_IMAGE_MULTI_EDIT_MODEL: 'off' });
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const res = await gw.authed(key, '/v1/images/edits', { method: 'POST', body: await editForm(2) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { param: 'image', message: 'Edits with several images are not available on this gateway (2 were sent): send one image' } });
    expect(await gw.balance(account)).toMatchObject({ charges: 0 });
  });

  it('quality picks the denoising steps on fal and on the worker; the worker is told the input fidelity', async () => {
    const gw = gateway(roomy);
    const { key } = await gw.issueKey({ credits_micro: 1_000_000 });
    for (const [quality, steps] of [['low', 14], ['auto', 28], ['standard', 28], ['high', 42], ['hd', 42]] as const) {
      const prompt = uniq(`q-${quality}`);
      expect((await gw.openai(key).images.generate({ prompt, quality })).quality).toBe(quality === 'low' ? 'low' : steps === 28 ? 'medium' : 'high');
      const [call] = await standinCalls(falOrigin(), (c) => (c.body as { prompt?: string })?.prompt === prompt);
      expect(call!.body).toMatchObject({ num_inference_steps: steps });
    }
    const prompt = uniq('worker quality');
    await gw.openai(TEST_API_KEY).images.edit({ image: await toFile(await pngFile(256, 256, [5, 5, 5]), 'w.png'), prompt, quality: 'low', input_fidelity: 'high' });
    const [prompted] = await standinCalls(workerOrigin(), (c) => c.path.endsWith('/prompt') && JSON.stringify(c.body).includes(prompt));
    const sampler = Object.values((prompted!.body as { prompt: Record<string, { class_type: string; inputs: Record<string, unknown> }> }).prompt).find((n) => n.class_type === 'KSampler')!;
    expect(sampler.inputs).toMatchObject({ steps: 14, denoise: 0.55 });
  });
});

// ------------------------------------------------------------------------------------------ the parameter space

type Tier = 'paid' | 'test';
type Params = Record<string, string | number | boolean | undefined>;

const SIZES = ['auto', '1024x1024', '1536x1024', '1024x1536', '256x256', '512x512', '1792x1024', '1024x1792', '1000x1000'];
const RATIOS = ['21:9', '16:9', '4:3', '3:2', '1:1', '2:3', '3:4', '9:16', '9:21'];
/** A field: absent or a value some route serves (mostly), or a documented value nothing here serves (sometimes). */
const field = <T>(served: T[], refused: T[] = []) =>
  refused.length
    ? fc.oneof({ weight: 20, arbitrary: fc.constantFrom<T | undefined>(undefined, ...served) }, { weight: 1, arbitrary: fc.constantFrom(...refused) })
    : fc.constantFrom<T | undefined>(undefined, ...served);
const sharedArb = {
  model: field(['gpt-image-1', 'gpt-image-1.5', 'gpt-image-1-mini', 'dall-e-2', 'dall-e-3', 'krea-2']),
  n: field([1, 2, 4], [5, 10]),
  size: field(SIZES.slice(0, -1), ['1000x1000']),
  quality: field(['auto', 'low', 'medium', 'high', 'standard', 'hd']),
  response_format: field(['url', 'b64_json']),
  output_format: field(['png', 'jpeg'], ['webp']),
  output_compression: field([100], [0, 50]),
  background: field(['auto', 'opaque'], ['transparent']),
  moderation: field(['auto'], ['low']),
  user: field(['user-1234']),
  stream: field([false, true]),
  partial_images: field([0], [1, 3]),
};
const generation = fc.record({ ...sharedArb, style: field<string>([], ['vivid', 'natural']) });
const edit = fc.record({
  ...sharedArb,
  size: field(['auto', '256x256', '1024x1024', '1536x1024', '1024x1536', '1792x1024'], ['1000x1000']),
  input_fidelity: field(['low', 'high']),
  images: fc.oneof({ weight: 3, arbitrary: fc.constant(1) }, { weight: 2, arbitrary: fc.integer({ min: 2, max: 3 }) }),
  mask: fc.oneof({ weight: 8, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});
const sizeOk = (s: unknown) => {
  if (s === undefined || s === 'auto') return true;
  const [w, h] = String(s).split('x').map(Number) as [number, number];
  return [w, h].every((d) => d >= 256 && d <= 2048 && d % 16 === 0);
};
const ratio = (s: string) => {
  const [w, h] = s.split('x').map(Number) as [number, number];
  const g = (a: number, b: number): number => (b ? g(b, a % b) : a);
  return `${w / g(w, h)}:${h / g(w, h)}`;
};

/** The parameters a request cannot be served for, by the README table (any one of them may be the one named). */
function refusals(p: Params & { images?: number; mask?: boolean }, tier: Tier, kind: 'generation' | 'edit'): Set<string> {
  const out = new Set<string>();
  const images = p.images ?? 0;
  if (p.n !== undefined && !(Number(p.n) >= 1 && Number(p.n) <= 4)) out.add('n');
  if (!sizeOk(p.size)) out.add('size');
  if (p.output_format === 'webp') out.add('output_format');
  if (p.output_compression !== undefined && p.output_compression !== 100) out.add('output_compression');
  if (p.background === 'transparent') out.add('background');
  if (p.moderation === 'low') out.add('moderation');
  if (p.style !== undefined) out.add('style');
  if (p.partial_images !== undefined && p.partial_images !== 0) out.add('partial_images');
  if (p.stream === true && p.response_format === 'url') out.add('response_format');
  if (p.mask) out.add('mask');
  if (tier === 'test') {
    if (p.output_format === 'jpeg') out.add('output_format');
    if (images > 1) out.add('image');
  } else if (images > 1) {
    if (p.quality !== undefined && p.quality !== 'auto') out.add('quality');
    if (p.input_fidelity !== undefined) out.add('input_fidelity');
    if (sizeOk(p.size) && p.size !== undefined && p.size !== 'auto' && !RATIOS.includes(ratio(String(p.size)))) out.add('size');
  } else if (kind === 'edit' && sizeOk(p.size) && p.size !== undefined && p.size !== 'auto' && p.size !== '256x256') out.add('size');
  return out;
}

describe('property: every documented parameter combination is served exactly or refused by name', () => {
  const { seed, runs } = inject('fuzz');

  async function check(gw: Gateway, keys: Record<Tier, { key: string; account?: string }>, tier: Tier, kind: 'generation' | 'edit', p: Params & { images?: number; mask?: boolean }) {
    const { images = 0, mask = false, ...fields } = p;
    const prompt = uniq('space');
    let res: Response;
    if (kind === 'generation') {
      res = await gw.authed(keys[tier].key, '/v1/images/generations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt, ...fields }) });
    } else {
      const form = new FormData();
      form.append('prompt', prompt);
      for (const [k, v] of Object.entries(fields)) if (v !== undefined) form.append(k, String(v));
      for (let i = 0; i < images; i++) form.append(images === 1 ? 'image' : 'image[]', new File([await pngFile(256, 256, [i * 40, 90, 160])], `p${i}.png`, { type: 'image/png' }));
      if (mask) form.append('mask', new File([await pngFile(256, 256, [0, 0, 0])], 'm.png', { type: 'image/png' }));
      res = await gw.authed(keys[tier].key, '/v1/images/edits', { method: 'POST', body: form });
    }
    const where = `${tier} ${kind} ${JSON.stringify(p)} → ${res.status}`;
    const refused = refusals(p, tier, kind);
    if (res.status !== 200) {
      const { error } = (await res.json()) as { error: { code: string; param: string | null; message: string } };
      expect(res.status, `${where} ${error.message}`).toBe(400);
      expect(error.code).toBe('invalid_request');
      expect([...refused], `${where}: named ${error.param} (${error.message})`).toContain(error.param);
      return { cost: 0, n: 0 };
    }
    expect([...refused], `${where}: served what should be refused`).toEqual([]);
    const n = Number(p.n ?? 1);
    const format = p.output_format === 'jpeg' ? 'jpeg' : 'png';
    const cost = Number(res.headers.get('x-phi-cost-micro'));
    expect(cost, where).toBe(tier === 'paid' ? n * IMAGE_MICRO : 0);
    let first: Uint8Array;
    if (p.stream === true) {
      const evs = events(await res.text());
      expect(evs, where).toHaveLength(n);
      expect(evs[0]!.data.output_format).toBe(format);
      first = b64bytes(evs[0]!.data.b64_json as string);
    } else {
      const body = (await res.json()) as { data: { url?: string; b64_json?: string }[]; output_format: string; size?: string };
      expect(body.data, where).toHaveLength(n);
      expect(body.output_format).toBe(format);
      const gpt = typeof p.model === 'string' && /^(gpt-image-|chatgpt-image-)/.test(p.model);
      const wantsB64 = p.response_format === 'b64_json' || (p.response_format === undefined && gpt);
      expect(Boolean(body.data[0]!.b64_json), `${where}: b64_json`).toBe(wantsB64);
      first = wantsB64 ? b64bytes(body.data[0]!.b64_json!) : new Uint8Array(await (await gw.fetch(body.data[0]!.url!)).arrayBuffer());
      const file = await decode(first);
      if (body.size) expect(`${file.width}x${file.height}`, where).toBe(body.size);
    }
    expect((await decode(first)).format, where).toBe(format);
    return { cost, n };
  }

  for (const kind of ['generation', 'edit'] as const) {
    it(`${kind}s on both tiers`, { timeout: 240_000 }, async () => {
      const gw = gateway(roomy);
      const paid = await gw.issueKey({ credits_micro: 100_000_000, rpm: 100_000 });
      const test = await gw.issueKey({ tier: 'test', rpm: 100_000 });
      const keys = { paid, test };
      let spent = 0;
      let served = 0;
      let refused = 0;
      const numRuns = Math.min(runs, 60);
      await fc.assert(
        fc.asyncProperty(fc.constantFrom<Tier>('paid', 'test'), kind === 'generation' ? generation : edit, async (tier, p) => {
          const before = await gw.balance(paid.account);
          const { cost, n } = await check(gw, keys, tier, kind, p as Params);
          const after = await gw.balance(paid.account);
          // a refused request moves nothing; a served one is charged exactly once, for what was delivered
          expect(before.balance_micro - after.balance_micro).toBe(tier === 'paid' ? cost : 0);
          expect(after.held_micro).toBe(0);
          spent += tier === 'paid' ? cost : 0;
          if (n) served++;
          else refused++;
        }),
        { seed, numRuns, endOnFailure: true },
      );
      expect(served, 'the run served a good share').toBeGreaterThanOrEqual(numRuns / 10);
      expect(refused, 'the run refused some').toBeGreaterThan(0);
      expect((await gw.balance(paid.account)).spent_micro).toBe(spent);
    });
  }
});
