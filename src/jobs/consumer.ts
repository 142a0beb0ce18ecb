// The JOBS consumer: compensations, watcher looks, webhook deliveries and media expiry. A message whose handling
// throws (the ledger, R2 or the provider not answering) is retried with backoff, then parked in the dead-letter queue.
import { getConfig } from '../config';
import type { Env } from '../env';
import { getLedger } from '../ledger';
import { apply, retryDelaySec, type JobMessage } from './queue';
import { watch } from './watch';
import { deliverOrRequeue } from './webhooks';
import { expireMedia } from './retention';

export async function consume(batch: MessageBatch<JobMessage>, env: Env): Promise<void> {
  const cfg = getConfig(env);
  const ledger = getLedger(env, cfg);
  await Promise.all(
    batch.messages.map(async (m) => {
      try {
        const msg = m.body;
        if (msg.t === 'watch') await watch(env, cfg, ledger, msg);
        else if (msg.t === 'webhook') await deliverOrRequeue(env, cfg, ledger, msg);
        else if (msg.t === 'media-expire') await expireMedia(env, cfg, msg);
        else await apply(ledger, msg);
        m.ack();
      } catch {
        m.retry({ delaySeconds: retryDelaySec(m.attempts) });
      }
    }),
  );
}
