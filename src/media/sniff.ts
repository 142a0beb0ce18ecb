// Content types by the bytes, never by a name or a header: inputs must really be images / audio, and whatever the
// gateway serves from its own origin must really be an image or a video.

export type MediaKind = 'image' | 'audio' | 'video';

export interface Sniffed {
  kind: MediaKind;
  type: string;
  ext: string;
}

/** Bytes needed to recognise every format below. */
export const SNIFF_BYTES = 16;

const at = (b: Uint8Array, offset: number, sig: string) => {
  for (let i = 0; i < sig.length; i++) if (b[offset + i] !== sig.charCodeAt(i)) return false;
  return true;
};

/** Recognises PNG/JPEG/WebP/GIF, WAV/MP3/M4A/FLAC/OGG, MP4/MOV/WebM from their first bytes. */
export function sniff(b: Uint8Array): Sniffed | null {
  if (b.length < 4) return null;
  if (at(b, 0, '\x89PNG\r\n\x1a\n')) return { kind: 'image', type: 'image/png', ext: 'png' };
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return { kind: 'image', type: 'image/jpeg', ext: 'jpg' };
  if (at(b, 0, 'GIF87a') || at(b, 0, 'GIF89a')) return { kind: 'image', type: 'image/gif', ext: 'gif' };
  if (at(b, 0, 'RIFF') && at(b, 8, 'WEBP')) return { kind: 'image', type: 'image/webp', ext: 'webp' };
  if (at(b, 0, 'RIFF') && at(b, 8, 'WAVE')) return { kind: 'audio', type: 'audio/wav', ext: 'wav' };
  if (at(b, 0, 'fLaC')) return { kind: 'audio', type: 'audio/flac', ext: 'flac' };
  if (at(b, 0, 'OggS')) return { kind: 'audio', type: 'audio/ogg', ext: 'ogg' };
  if (at(b, 0, 'ID3') || (b[0] === 0xff && (b[1]! & 0xe0) === 0xe0 && (b[1]! & 0x06) !== 0)) {
    return { kind: 'audio', type: 'audio/mpeg', ext: 'mp3' };
  }
  if (at(b, 4, 'ftyp')) {
    const brand = String.fromCharCode(b[8]!, b[9]!, b[10]!, b[11]!);
    if (brand === 'M4A ' || brand === 'M4B ') return { kind: 'audio', type: 'audio/mp4', ext: 'm4a' };
    if (brand === 'qt  ') return { kind: 'video', type: 'video/quicktime', ext: 'mov' };
    return { kind: 'video', type: 'video/mp4', ext: 'mp4' };
  }
  if (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return { kind: 'video', type: 'video/webm', ext: 'webm' };
  return null;
}

/** What the gateway will serve from its own origin: these types only, always with `nosniff`. */
export const SERVABLE = new Set(['image/png', 'image/jpeg', 'image/webp', 'image/gif', 'video/mp4', 'video/webm', 'video/quicktime']);

/** Headers every media response carries: the type was checked, the browser must not guess another one. */
export function mediaHeaders(contentType: string): Headers {
  return new Headers({
    'content-type': contentType,
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; sandbox",
    'cache-control': 'private, max-age=0',
    'accept-ranges': 'bytes',
  });
}
