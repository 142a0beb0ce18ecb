import type { Config } from './config';
import type { Env } from './env';
import type { Ledger } from './ledger';
import type { KeyRecord } from './ledger/types';
import type { Trace } from './pipeline/trace';

export interface AppEnv {
  Bindings: Env;
  Variables: { requestId: string; cfg: Config; ledger: Ledger; key: KeyRecord; errorCode?: string; auditAccount?: string; auditDetail?: Record<string, string | number | boolean | null>; trace?: Trace };
}
