// JSON documents that embed large byte strings as base64 (b64_json images, data: URI inputs), streamed with an
// exact Content-Length: the base64 text is produced chunk by chunk from the bytes and never held whole.
import { base64 } from './crypto';

/** A byte string to embed as a JSON string value: `prefix` + base64(bytes). */
export class Bytes {
  constructor(
    readonly bytes: Blob | Uint8Array,
    readonly prefix = '',
  ) {}

  get size(): number {
    return this.bytes instanceof Blob ? this.bytes.size : this.bytes.byteLength;
  }

  /** base64 length of the bytes. */
  get encodedLength(): number {
    return this.prefix.length + 4 * Math.ceil(this.size / 3);
  }
}

/** 48 KiB: a multiple of 3, so chunks encode independently and concatenate into one valid base64 string. */
const CHUNK = 3 * 16 * 1024;
const enc = new TextEncoder();

export interface JsonStream {
  body: ReadableStream<Uint8Array>;
  length: number;
}

/** Serialises `value` (with Bytes leaves) as a stream of exactly `length` bytes. */
export function jsonStream(value: unknown): JsonStream {
  const nonce = crypto.randomUUID();
  const found: Bytes[] = [];
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Bytes) return `@@${nonce}:${found.push(v) - 1}@@`;
    return v;
  });
  const pieces = text.split(new RegExp(`"@@${nonce}:(\\d+)@@"`));
  // pieces alternate: text, index, text, index, …, text
  const parts: (Uint8Array | Bytes)[] = pieces.map((p, i) => (i % 2 ? found[Number(p)]! : enc.encode(p)));
  const length = parts.reduce((n, p) => n + (p instanceof Bytes ? p.encodedLength + 2 : p.byteLength), 0);
  let index = 0;
  let offset = 0;
  const quote = enc.encode('"');
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const part = parts[index];
      if (!part) return controller.close();
      if (!(part instanceof Bytes)) {
        controller.enqueue(part);
        index++;
        return;
      }
      if (offset === 0) controller.enqueue(enc.encode(`"${part.prefix}`));
      const end = Math.min(offset + CHUNK, part.size);
      const chunk = part.bytes instanceof Blob ? new Uint8Array(await part.bytes.slice(offset, end).arrayBuffer()) : part.bytes.subarray(offset, end);
      controller.enqueue(enc.encode(base64(chunk)));
      offset = end;
      if (offset >= part.size) {
        controller.enqueue(quote);
        index++;
        offset = 0;
      }
    },
  });
  return { body, length };
}

/** Whether `value` has a Bytes leaf (a walk: far cheaper than JSON.stringify with a replacer). Deep: assumed so. */
function holdsBytes(v: unknown, depth = 0): boolean {
  if (v instanceof Bytes) return true;
  if (v === null || typeof v !== 'object') return false;
  if (depth > 16) return true;
  for (const x of Array.isArray(v) ? v : Object.values(v)) if (holdsBytes(x, depth + 1)) return true;
  return false;
}

/**
 * A request body for `value` and its exact length: the JSON bytes when it embeds no byte string (a text-to-image
 * request — no stream to pump, the common case), else the streamed document with a declared length.
 */
export function jsonBody(value: unknown): { body: Uint8Array | ReadableStream<Uint8Array>; length: number } {
  if (!holdsBytes(value)) {
    const bytes = enc.encode(JSON.stringify(value));
    return { body: bytes, length: bytes.byteLength };
  }
  const stream = jsonStream(value);
  return { body: sized(stream), length: stream.length };
}

/** The stream with a declared length (so it is sent with Content-Length, not chunked). */
export function sized({ body, length }: JsonStream): ReadableStream<Uint8Array> {
  const fixed = new FixedLengthStream(length);
  void body.pipeTo(fixed.writable).catch(() => {});
  return fixed.readable;
}

/** Total base64 characters of the Bytes leaves in `value` (how big its JSON text would be, roughly). */
export function embeddedLength(value: unknown): number {
  let n = 0;
  JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Bytes) {
      n += v.encodedLength;
      return null;
    }
    return v;
  });
  return n;
}

/** The whole JSON text (Bytes as base64 strings); for small documents only. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (!(v instanceof Bytes)) return v;
    if (v.bytes instanceof Blob) throw new TypeError('jsonText needs in-memory bytes');
    return v.prefix + base64(v.bytes);
  });
}

/**
 * Parts as one stream, each opened only when it is reached: byte strings, Blobs (read through their own stream, no
 * copy) and streams (read once). Callers that need the body again call this again with the same parts.
 */
export function chain(parts: readonly (Uint8Array | Blob | ReadableStream<Uint8Array>)[]): ReadableStream<Uint8Array> {
  let i = 0;
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        if (reader) {
          const { done, value } = await reader.read();
          if (!done) return controller.enqueue(value);
          reader = null;
          i++;
        }
        const part = parts[i];
        if (!part) return controller.close();
        if (part instanceof Uint8Array) {
          i++;
          return controller.enqueue(part);
        }
        reader = (part instanceof Blob ? part.stream() : part).getReader() as ReadableStreamDefaultReader<Uint8Array>;
      }
    },
  });
}
