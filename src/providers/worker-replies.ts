// The ComfyUI worker's answers (see src/providers/worker.ts): the reply shapes validated at the boundary, the outputs
// read from a history entry, and its HTTP failures in the gateway's words.
import * as z from 'zod/mini';
import { ApiError, upstreamError, upstreamTimeout } from '../http/errors';
import { retryAfterMs, UpstreamError } from './retry';
import type { Asset } from './types';

// What ComfyUI returns (server.py / execution.py), validated at the boundary.
const safeName = z.string().check(
  z.minLength(1),
  z.maxLength(255),
  z.refine((s) => !s.includes('..') && !/^[/\\]|^[a-z]:/i.test(s), 'unsafe path'),
);
const fileRef = z.object({
  filename: safeName,
  subfolder: z.optional(z.union([z.literal(''), safeName])),
  type: z.optional(z.enum(['output', 'temp'])),
  format: z.optional(z.string()),
});
const historyEntry = z.object({
  outputs: z.optional(
    z.record(z.string(), z.object({ images: z.optional(z.array(fileRef)), gifs: z.optional(z.array(fileRef)), animated: z.optional(z.array(z.boolean())) })),
  ),
  status: z.optional(z.object({ status_str: z.optional(z.string()), messages: z.optional(z.array(z.tuple([z.string(), z.unknown()]))) })),
});
export const historyReply = z.record(z.string(), historyEntry);
export const queueReply = z.object({ queue_running: z.array(z.array(z.unknown())), queue_pending: z.optional(z.array(z.unknown())) });
export const promptReply = z.object({ prompt_id: z.optional(z.string()) });
export const uploadReply = z.object({ name: safeName, subfolder: z.optional(z.union([z.literal(''), safeName])) });

export type HistoryEntry = z.infer<typeof historyEntry>;
type FileRef = z.infer<typeof fileRef>;

export const failed = (entry: HistoryEntry) => entry.status?.status_str === 'error';

/**
 * A pending prompt's place in ComfyUI's queue: items are `[number, prompt_id, …]` and run in `number` order, so the
 * position is how many pending items have a smaller number. Nothing when the prompt is not listed (or oddly shaped).
 */
export function queuePosition(pending: unknown[], promptId: string): { position?: number } {
  const items = pending.filter((i): i is [number, string, ...unknown[]] => Array.isArray(i) && typeof i[0] === 'number' && typeof i[1] === 'string');
  const mine = items.find((i) => i[1] === promptId);
  return mine ? { position: items.filter((i) => i[0] < mine[0]).length } : {};
}

/** Reads all three ComfyUI output shapes: images (SaveImage), images+animated (SaveVideo), gifs (VHS). */
export function collect(entry: HistoryEntry, want: 'image' | 'video'): Asset[] {
  const out: Asset[] = [];
  for (const node of Object.values(entry.outputs ?? {})) {
    const animated = node.animated?.some(Boolean) ?? false;
    const gifs = node.gifs ?? [];
    for (const f of [...gifs, ...(node.images ?? [])]) {
      const type = contentTypeOf(f);
      const isVideo = type.startsWith('video/') || animated || gifs.includes(f);
      if ((want === 'video') !== isVideo) continue;
      out.push({ kind: 'worker', filename: f.filename, subfolder: f.subfolder ?? '', type: f.type ?? 'output', contentType: type });
    }
  }
  return out;
}

const TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif', mp4: 'video/mp4', webm: 'video/webm' };

function contentTypeOf(f: FileRef): string {
  if (f.format?.startsWith('video/')) return f.format.includes('webm') ? 'video/webm' : 'video/mp4';
  return TYPES[f.filename.split('.').pop()?.toLowerCase() ?? ''] ?? 'application/octet-stream';
}

/**
 * The worker's failures in the gateway's words (ComfyUI's error bodies are not passed on). Its back-pressure (429 or
 * 503, usually from what fronts it) is a 503 with retry-after, never a 502; 429/502/503/504 may be retried.
 */
export async function workerError(res: Response): Promise<UpstreamError> {
  await res.body?.cancel().catch(() => {});
  const after = retryAfterMs(res);
  const down = res.status >= 500 || res.status === 429;
  const retryable = [429, 502, 503, 504].includes(res.status);
  let err: ApiError;
  if (res.status === 400) err = upstreamError('The worker rejected the workflow');
  else if (res.status === 401 || res.status === 403) err = upstreamError('The worker refused the gateway credentials');
  else if (res.status === 429 || res.status === 503) {
    const secs = after !== undefined ? Math.max(1, Math.ceil(after / 1000)) : 5;
    err = new ApiError(503, 'provider_unavailable', 'The test worker is busy; retry shortly', null, { 'retry-after': String(secs) });
  } else if (res.status === 504) err = upstreamTimeout('The worker did not answer in time');
  else err = upstreamError(`The worker failed (HTTP ${res.status})`);
  return new UpstreamError(err, retryable, down ? 'down' : 'up', after);
}
