import { app } from './app';

export { LedgerStore } from './ledger/durable';

export default app satisfies ExportedHandler<import('./env').Env>;
