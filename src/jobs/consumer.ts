// The JOBS consumer: compensations, watcher looks and webhook deliveries. A message whose handling throws (the
// ledger or the provider not answering) is retried with backoff, then parked in the dead-letter queue.
import { getConfig } from '../config';
import type { Env } from '../env';
import { getLedger } from '../ledger';
import { apply, retryDelaySec, type JobMessage } from './queue';
import { watch } from './watch';
import { deliverOrRequeue } from './webhooks';

export async function consume(batch: MessageBatch<JobMessage>, env: Env): Promise<void> {
  const cfg = getConfig(env);
  const ledger = getLedger(env, cfg);
  await Promise.all(
    batch.messages.map(async (m) => {
      try {
        const msg = m.body;
        if (msg.t === 'watch') await watch(env, cfg, ledger, msg);
        else if (msg.t === 'webhook') await deliverOrRequeue(env, cfg, ledger, msg);
        else await apply(ledger, msg);
        m.ack();
      } catch {
        m.retry({ delaySeconds: retryDelaySec(m.attempts) });
      }
    }),
  );
}
