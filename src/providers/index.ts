import type { Config } from '../config';
import type { ProviderName } from '../catalog/resolve';
import { FalProvider } from './fal';
import type { Provider } from './types';
import { WorkerProvider } from './worker';

export type { Provider } from './types';

/** The adapter for a route's provider (503 provider_unavailable when it is not configured). */
export function providerFor(name: ProviderName, cfg: Config): Provider {
  const timeoutMs = cfg.UPSTREAM_TIMEOUT_SECONDS * 1000;
  return name === 'fal' ? new FalProvider(cfg, timeoutMs) : new WorkerProvider(cfg, timeoutMs);
}
