import type { Config } from './config';
import type { Env } from './env';
import type { Ledger } from './ledger';
import type { KeyRecord } from './ledger/types';

export interface AppEnv {
  Bindings: Env;
  Variables: { requestId: string; cfg: Config; ledger: Ledger; key: KeyRecord; errorCode?: string; auditAccount?: string };
}
