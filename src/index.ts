import { app } from './app';
import type { Env } from './env';
import { consume } from './jobs/consumer';
import type { JobMessage } from './jobs/queue';

export { LedgerStore } from './ledger/durable/store';

export default {
  fetch: (req, env, ctx) => app.fetch(req, env, ctx),
  queue: (batch, env) => consume(batch, env),
} satisfies ExportedHandler<Env, JobMessage>;
