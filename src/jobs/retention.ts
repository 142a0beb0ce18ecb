// Retention of re-hosted media (MEDIA_RETENTION_HOURS, default 24): every object the gateway writes to R2 carries
// its end (`customMetadata.expires`, epoch ms), and a delayed `media-expire` message on the JOBS queue deletes it
// then. Queue delays are capped at 12 h, so a message that arrives early sends itself again with what is left. The
// read-time check (serveMedia) enforces the same end when the queue is unbound or a send was lost; the bucket's
// lifecycle rule is only a backstop. The message names the object key only (no account name, no content).
import type { Config } from '../config';
import type { Env } from '../env';
import { expiresOf } from '../media/store';
import type { JobMessage, MediaExpireMessage } from './messages';

export type { MediaExpireMessage } from './messages';

/** Cloudflare Queues' longest delay for one message (12 h). */
export const MAX_QUEUE_DELAY_SEC = 43_200;

/** MEDIA_RETENTION_HOURS in ms. */
export const retentionMs = (cfg: Config) => Math.round(cfg.MEDIA_RETENTION_HOURS * 3_600_000);

/** The delay that brings a message to `at` (epoch ms), or as close as the queue allows. */
export const delayFor = (at: number, now = Date.now()) => Math.min(MAX_QUEUE_DELAY_SEC, Math.max(0, Math.ceil((at - now) / 1000)));

/**
 * Queues the deletion of `key` at `at`. With an execution context the send runs after the answer (no latency on a
 * paid image); otherwise it is awaited. Never fails the caller: the read-time check enforces retention anyway.
 */
export function scheduleExpiry(jobs: Queue<JobMessage> | undefined, exec: ExecutionContext | undefined, key: string, at: number): Promise<void> {
  if (!jobs) return Promise.resolve();
  const msg: MediaExpireMessage = { t: 'media-expire', key, at };
  const send = Promise.resolve()
    .then(async () => void (await jobs.send(msg, { delaySeconds: delayFor(at) })))
    .catch(() => {});
  if (exec) {
    exec.waitUntil(send);
    return Promise.resolve();
  }
  return send;
}

/**
 * The consumer's side: early → sent again with the remaining delay; due → the object is deleted, unless it was
 * written again since with a later end (then that end is followed). A failure throws: the queue retries.
 */
export async function expireMedia(env: Env, cfg: Config, msg: MediaExpireMessage, now = Date.now()): Promise<'deleted' | 'later' | 'gone'> {
  const bucket = env.MEDIA;
  if (!bucket) return 'gone';
  if (msg.at > now) {
    await requeue(env, msg, now);
    return 'later';
  }
  const head = await bucket.head(msg.key);
  if (!head) return 'gone';
  const until = expiresOf(head, retentionMs(cfg));
  if (until > now) {
    await requeue(env, { ...msg, at: until }, now);
    return 'later';
  }
  await bucket.delete(msg.key);
  return 'deleted';
}

async function requeue(env: Env, msg: MediaExpireMessage, now: number): Promise<void> {
  // Without a queue to wait on, the read-time check and the lifecycle rule are what is left.
  if (!env.JOBS) return;
  await env.JOBS.send(msg, { delaySeconds: delayFor(msg.at, now) });
}
