// Video job ids: `video_` + base64url(AES-256-GCM(compact binary job)), under a key derived from SIGNING_SECRET
// with HKDF. Opaque (nothing readable: not the account, not the upstream request id), authenticated (a changed
// byte fails to decrypt), bound to the owning account (it is the additional authenticated data, so another
// account's key cannot even open it), ≤ 255 characters, and still everything a poll needs to re-resolve the job
// without stored state. One spelling only: the text must be the canonical encoding of its bytes.
import type { Canonical } from '../catalog/models';
import type { ProviderName } from '../catalog/resolve';
import { b64url, fromB64url } from '../http/crypto';

export interface Job {
  /** canonical model */
  m: Canonical;
  /** provider */
  p: ProviderName;
  /** exact upstream endpoint id (fal) or workflow (worker) used at enqueue */
  e: string;
  /** upstream request id (fal request_id / ComfyUI prompt_id) */
  r: string;
  /** owning account (not in the id's bytes: it is what the id is bound to) */
  a: string;
  /** unit price micro-USD per second, frames, fps — the billing parameters */
  u: number;
  f: number;
  fps: number;
  /** hold id */
  h: string;
  /** size WxH */
  s: string;
  /** created, unix seconds */
  t: number;
  /** the seconds asked for, in ms (0 when frames were asked for instead) — echoed as `seconds` */
  q: number;
  /** inputs the job was made from: bit 0 an image, bit 1 audio (a remix cannot re-send them) */
  x: number;
}

/** Longest id minted (ordinary VARCHAR(255) columns hold it). */
export const MAX_ID_LENGTH = 255;
const PREFIX = 'video_';
const VERSION = 2;
const MODELS: Canonical[] = ['krea-2', 'wan', 'avatar'];
const PROVIDERS: ProviderName[] = ['fal', 'worker'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const keys = new Map<string, Promise<CryptoKey>>();

/** A key derived from SIGNING_SECRET with HKDF for one purpose (`info`), cached per isolate. */
function derived(secret: string, info: string, alg: { name: string; length?: number; hash?: string }, uses: ("encrypt" | "decrypt" | "sign")[]): Promise<CryptoKey> {
  const id = `${info}\0${secret}`;
  let key = keys.get(id);
  if (!key) {
    key = crypto.subtle
      .importKey('raw', enc.encode(secret), 'HKDF', false, ['deriveKey'])
      .then((base) => crypto.subtle.deriveKey({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: enc.encode(info) }, base, alg, false, uses));
    keys.set(id, key);
  }
  return key;
}

const jobKey = (secret: string) => derived(secret, 'phi-gateway video-id v2', { name: 'AES-GCM', length: 256 }, ['encrypt', 'decrypt']);
const ivKey = (secret: string) => derived(secret, 'phi-gateway video-id v2 iv', { name: 'HMAC', hash: 'SHA-256', length: 256 }, ['sign']);
const hookKey = (secret: string) => derived(secret, 'phi-gateway fal-hook v1', { name: 'AES-GCM', length: 256 }, ['encrypt', 'decrypt']);

/** Append-only byte writer/reader for the compact form. */
class Writer {
  private readonly parts: number[] = [];
  byte(n: number) {
    this.parts.push(n & 0xff);
  }
  uint(n: number) {
    // LEB128 unsigned varint
    do {
      let b = n % 128;
      n = Math.floor(n / 128);
      if (n > 0) b |= 0x80;
      this.byte(b);
    } while (n > 0);
  }
  bytes(b: Uint8Array) {
    this.uint(b.length);
    for (const x of b) this.byte(x);
  }
  text(s: string) {
    this.bytes(enc.encode(s));
  }
  done() {
    return Uint8Array.from(this.parts);
  }
}

class Reader {
  private at = 0;
  constructor(private readonly b: Uint8Array) {}
  byte(): number {
    if (this.at >= this.b.length) throw new RangeError('short');
    return this.b[this.at++]!;
  }
  uint(): number {
    let n = 0;
    for (let shift = 1; ; shift *= 128) {
      const b = this.byte();
      n += (b & 0x7f) * shift;
      if (!(b & 0x80)) return n;
      if (shift > 2 ** 42) throw new RangeError('varint');
    }
  }
  bytes(): Uint8Array {
    const n = this.uint();
    if (this.at + n > this.b.length) throw new RangeError('short');
    return this.b.subarray(this.at, (this.at += n));
  }
  text(): string {
    return dec.decode(this.bytes());
  }
  end() {
    if (this.at !== this.b.length) throw new RangeError('trailing');
  }
}

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
const unhex = (s: string) => Uint8Array.from(s.match(/../g)!, (h) => parseInt(h, 16));

function pack(job: Job): Uint8Array {
  const w = new Writer();
  const [width, height] = job.s.split('x').map(Number);
  w.byte(VERSION);
  w.byte(MODELS.indexOf(job.m) * 4 + PROVIDERS.indexOf(job.p));
  w.text(job.e);
  // Upstream request ids are UUIDs (fal's, and the prompt ids the gateway gives ComfyUI): 16 bytes, else text.
  if (UUID.test(job.r)) {
    w.byte(1);
    w.bytes(unhex(job.r.replace(/-/g, '')));
  } else {
    w.byte(0);
    w.text(job.r);
  }
  w.uint(job.u);
  w.uint(job.f);
  w.uint(job.fps);
  w.bytes(fromB64url(job.h.replace(/^vh_/, '')) ?? new Uint8Array(0));
  w.uint(width!);
  w.uint(height!);
  w.uint(job.t);
  w.uint(job.q);
  w.byte(job.x);
  return w.done();
}

function unpack(b: Uint8Array, account: string): Job {
  const r = new Reader(b);
  if (r.byte() !== VERSION) throw new RangeError('version');
  const mp = r.byte();
  const m = MODELS[mp >> 2];
  const p = PROVIDERS[mp & 3];
  if (!m || !p) throw new RangeError('model');
  const e = r.text();
  const uuid = r.byte() === 1;
  const raw = uuid ? hex(r.bytes()) : r.text();
  const req = uuid ? `${raw.slice(0, 8)}-${raw.slice(8, 12)}-${raw.slice(12, 16)}-${raw.slice(16, 20)}-${raw.slice(20)}` : raw;
  const job: Job = {
    m,
    p,
    e,
    r: req,
    a: account,
    u: r.uint(),
    f: r.uint(),
    fps: r.uint(),
    h: `vh_${b64url(r.bytes())}`,
    s: `${r.uint()}x${r.uint()}`,
    t: r.uint(),
    q: r.uint(),
    x: r.byte(),
  };
  r.end();
  return job;
}

/** The job's public id; throws when it would not fit MAX_ID_LENGTH (an absurdly long endpoint or request id). */
export async function encodeJob(secret: string, job: Job): Promise<string> {
  // A synthetic IV (SIV-style): an HMAC of the account and the packed job. The same job always gets the same id —
  // so a fal webhook, which knows the job but not the id it was given, re-derives that very id — and two jobs
  // (whose upstream request ids differ) never share an IV.
  const plain = pack(job);
  const aad = enc.encode(job.a);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', await ivKey(secret), concatBytes(aad, Uint8Array.of(0), plain)));
  const iv = mac.subarray(0, 12);
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad }, await jobKey(secret), plain));
  const body = new Uint8Array(iv.length + sealed.length);
  body.set(iv);
  body.set(sealed, iv.length);
  const id = PREFIX + b64url(body);
  if (id.length > MAX_ID_LENGTH) throw new RangeError(`video id would be ${id.length} characters`);
  return id;
}

/** The job behind an id, for this account; null for anything forged, tampered, truncated, foreign or respelled. */
export async function decodeJob(secret: string, id: string, account: string): Promise<Job | null> {
  if (!id.startsWith(PREFIX) || id.length > MAX_ID_LENGTH) return null;
  const text = id.slice(PREFIX.length);
  const body = fromB64url(text);
  // 12-byte IV + 16-byte tag + at least a few bytes; and only the canonical spelling of those bytes.
  if (!body || body.length < 40 || b64url(body) !== text) return null;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: body.subarray(0, 12), additionalData: enc.encode(account) },
      await jobKey(secret),
      body.subarray(12),
    );
    return unpack(new Uint8Array(plain), account);
  } catch {
    return null;
  }
}

function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A job before the provider named it: everything but the upstream request id. */
export type PendingJob = Omit<Job, 'r'>;

/**
 * The token in a fal webhook URL (`/v1/hooks/fal/{token}`): the pending job sealed with AES-GCM under its own key,
 * so the URL fal holds reveals nothing (not even the account) and cannot be forged. The webhook supplies the
 * request id (signed by fal); with it the hook rebuilds the job, and its id, without stored state.
 */
export async function sealHook(secret: string, job: PendingJob): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const plain = enc.encode(JSON.stringify(job));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: enc.encode('fal-hook') }, await hookKey(secret), plain));
  return b64url(concatBytes(iv, sealed));
}

export async function openHook(secret: string, token: string): Promise<PendingJob | null> {
  const body = fromB64url(token);
  if (!body || body.length < 29 || b64url(body) !== token) return null;
  try {
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: body.subarray(0, 12), additionalData: enc.encode('fal-hook') }, await hookKey(secret), body.subarray(12));
    return JSON.parse(dec.decode(plain)) as PendingJob;
  } catch {
    return null;
  }
}
