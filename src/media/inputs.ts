// Customer input files (a portrait or start image, a voice track): uploaded multipart parts, data: URIs or URLs.
// Each is typed by its bytes and capped. The gateway itself fetches a URL only for the worker tier (fal fetches
// its own inputs), under the customer-URL rules, and every way that fetch can fail gives the same answer.
import { readCapped } from '../http/body';
import { badRequest, PHI_NOT_ACCEPTED, PhiBlocked, type ApiError } from '../http/errors';
import { isDicom, stripMetadata, StripError } from './strip';
import { fromBase64 } from '../http/crypto';
import { customerUrl, type UrlRules } from '../http/urls';
import { fetchFollowing } from '../providers/upstream';
import { sniff, SNIFF_BYTES, type MediaKind } from './sniff';

const MiB = 1024 * 1024;

export type InputKind = Extract<MediaKind, 'image' | 'audio'>;

/**
 * Largest input accepted, by kind (uploads, data: URIs and fetched URLs alike). An input is held in memory until
 * it is handed on, so these caps are what keep four concurrent maximum-size requests well inside an isolate.
 */
export const INPUT_MAX: Record<InputKind, number> = { image: 6 * MiB, audio: 6 * MiB };

const ACCEPTED: Record<InputKind, { types: readonly string[]; words: string }> = {
  image: { types: ['image/png', 'image/jpeg', 'image/webp'], words: 'a PNG, JPEG or WebP image' },
  audio: { types: ['audio/wav', 'audio/mpeg', 'audio/mp4', 'audio/flac', 'audio/ogg'], words: 'WAV, MP3, M4A, FLAC or OGG audio' },
};

/** An input ready to hand to a provider: its bytes and the type they were recognised as. */
export interface LoadedInput {
  bytes: Blob | Uint8Array;
  type: string;
  ext: string;
}

const wrongType = (field: string, kind: InputKind) =>
  badRequest(field, `'${field}' must be ${ACCEPTED[kind].words} of at most ${INPUT_MAX[kind] / MiB} MiB`);

/** A DICOM file is medical imaging by definition: refused as PHI whatever the screening mode. */
const dicomBlocked = (field: string) => new PhiBlocked(field, 'dicom', `'${field}' is a DICOM file (medical imaging). ${PHI_NOT_ACCEPTED}`);

/**
 * Types bytes by their content (a mismatch names the field and what is accepted), refuses DICOM, and removes the
 * file's metadata by rewriting its container (src/media/strip.ts): what is forwarded carries no EXIF/XMP/IPTC,
 * text chunks or audio tags. A container too malformed to vouch for is refused.
 */
export async function typedInput(input: Blob | Uint8Array, kind: InputKind, field: string): Promise<LoadedInput> {
  const size = input instanceof Blob ? input.size : input.byteLength;
  if (size === 0 || size > INPUT_MAX[kind]) throw wrongType(field, kind);
  const bytes = input instanceof Blob ? new Uint8Array(await input.arrayBuffer()) : input;
  if (isDicom(bytes.subarray(0, DICOM_HEAD))) throw dicomBlocked(field);
  const found = sniff(bytes.subarray(0, SNIFF_BYTES));
  if (!found || !ACCEPTED[kind].types.includes(found.type)) throw wrongType(field, kind);
  let stripped: Uint8Array;
  try {
    stripped = stripMetadata(bytes, found.type).bytes;
  } catch (err) {
    if (err instanceof StripError) throw badRequest(field, `'${field}' is not a well-formed ${ACCEPTED[kind].words.replace(/^an? /, '')} file: its metadata could not be removed safely`);
    throw err;
  }
  return { bytes: stripped, type: found.type, ext: found.ext };
}

/** Bytes isDicom looks at: the 128-byte preamble and the DICM magic. */
const DICOM_HEAD = 132;

/** The message for every way a customer URL can fail: nothing here tells a refused port from a 404. */
export const unreachable = (field: string, kind: InputKind): ApiError =>
  badRequest(field, `'${field}' could not be retrieved as ${ACCEPTED[kind].words}: use a public https URL that answers 200 with at most ${INPUT_MAX[kind] / MiB} MiB`);

/** Parse-time check of a URL input: a data: URI, or an address the fetch rules allow. */
export function checkInputUrl(raw: string, field: string, rules: UrlRules): void {
  if (raw.startsWith('data:')) return;
  if (!customerUrl(raw, rules)) {
    throw badRequest(field, `'${field}' must be a public https URL (no IP addresses, internal names or gateway hosts) or a data: URI`);
  }
}

/** Decodes a base64 data: URI (bytes typed by content, not by the declared type), in chunks: no full-size copies. */
export async function dataUriInput(raw: string, kind: InputKind, field: string): Promise<LoadedInput> {
  const comma = raw.indexOf(',');
  const header = comma > 0 && comma < 256 ? raw.slice(0, comma) : '';
  if (!/^data:[\w.+/-]*(?:;[\w-]+=[\w.-]+)*;base64$/.test(header)) throw wrongType(field, kind);
  const bytes = decodeBase64Range(raw, comma + 1, INPUT_MAX[kind]);
  if (!bytes) throw wrongType(field, kind);
  return typedInput(bytes, kind, field);
}

/** base64 text from `start` to the end of `s` → bytes (null when malformed or larger than `max`). */
function decodeBase64Range(s: string, start: number, max: number): Uint8Array | null {
  const len = s.length - start;
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  if (len % 4 !== 0 || (len / 4) * 3 - pad > max) return null;
  const out = new Uint8Array((len / 4) * 3 - pad);
  const CHUNK = 64 * 1024; // a multiple of 4
  for (let at = 0; at < len; at += CHUNK) {
    const part = fromBase64(s.slice(start + at, start + Math.min(at + CHUNK, len)));
    if (!part) return null;
    out.set(part, (at / 4) * 3);
  }
  return out;
}

/** Fetches a customer URL under the rules: no redirect off the rules, a streamed cap, typed by content. */
export async function fetchInput(raw: string, kind: InputKind, field: string, rules: UrlRules, timeoutMs: number): Promise<LoadedInput> {
  if (raw.startsWith('data:')) return dataUriInput(raw, kind, field);
  const url = customerUrl(raw, rules);
  if (!url) throw unreachable(field, kind);
  let bytes: Uint8Array;
  try {
    const signal = AbortSignal.timeout(timeoutMs);
    const res = await fetchFollowing(url, (next) => customerUrl(next, rules), { signal, headers: { accept: `${kind}/*` } });
    if (!res || res.status !== 200) {
      await res?.body?.cancel().catch(() => {});
      throw unreachable(field, kind);
    }
    bytes = await readCapped(res, { max: INPUT_MAX[kind], deadline: Date.now() + timeoutMs });
  } catch {
    throw unreachable(field, kind);
  }
  return typedInput(bytes, kind, field).catch((err: unknown) => {
    throw err instanceof PhiBlocked ? err : unreachable(field, kind);
  });
}
