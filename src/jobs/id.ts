// Video job ids: `video_<payload><mac>` — base64url JSON (no prompt, no secrets) and a 128-bit HMAC-SHA256 tag
// under SIGNING_SECRET. The id carries everything a poll needs, so the gateway keeps no job state.
import type { Canonical } from '../catalog/models';
import type { ProviderName } from '../catalog/resolve';
import { b64url, fromB64url, hmac, tokenEquals } from '../http/crypto';

export interface Job {
  /** canonical model */
  m: Canonical;
  /** provider */
  p: ProviderName;
  /** exact upstream endpoint id (fal) or workflow (worker) used at enqueue */
  e: string;
  /** upstream request id (fal request_id / ComfyUI prompt_id) */
  r: string;
  /** owning account */
  a: string;
  /** unit price micro-USD per second, frames, fps — the billing parameters */
  u: number;
  f: number;
  fps: number;
  /** hold id ('' when nothing is held) */
  h: string;
  /** size WxH */
  s: string;
  /** created, unix seconds */
  t: number;
}

const LABEL = 'video-job-v1';
const MAC_CHARS = 22; // 16 bytes

export async function encodeJob(secret: string, job: Job): Promise<string> {
  const payload = b64url(new TextEncoder().encode(JSON.stringify(job)));
  const mac = b64url((await hmac(secret, LABEL, payload)).slice(0, 16));
  return `video_${payload}${mac}`;
}

/** Returns the job, or null for anything tampered, truncated or malformed. */
export async function decodeJob(secret: string, id: string): Promise<Job | null> {
  if (!id.startsWith('video_') || id.length < 6 + MAC_CHARS + 8) return null;
  const body = id.slice(6);
  const payload = body.slice(0, -MAC_CHARS);
  const expected = (await hmac(secret, LABEL, payload)).slice(0, 16);
  // The tag is compared as text: only the canonical spelling of the 16 bytes is accepted (no spare-bit variants).
  if (!tokenEquals(body.slice(-MAC_CHARS), expected)) return null;
  try {
    const bytes = fromB64url(payload);
    return bytes ? (JSON.parse(new TextDecoder().decode(bytes)) as Job) : null;
  } catch {
    return null;
  }
}
