// What a pipeline step needs from the request: bindings, config, ledger, the caller's key, and where it called.
import type { Context } from 'hono';
import type { AppEnv } from '../app-env';
import type { Config } from '../config';
import type { Env } from '../env';
import type { UrlRules } from '../http/urls';
import type { Ledger } from '../ledger';
import type { KeyRecord } from '../ledger/types';
import type { Trace } from './trace';

export interface Ctx {
  env: Env;
  cfg: Config;
  ledger: Ledger;
  key: KeyRecord;
  /** Scheme + host the customer called, for absolute URLs. */
  origin: string;
  /** The rules a customer URL must pass (the gateway's and the worker's hosts are never allowed). */
  urlRules: UrlRules;
  /** For background work that must outlive the response (compensations without a queue). */
  exec?: ExecutionContext;
  /** The request's id (null for the watcher). */
  requestId: string | null;
  /** What it did upstream, for its log line (model, provider, upstream time); absent outside a request. */
  trace?: Trace;
}

/** The request's execution context, or undefined outside a real request (unit calls). */
export function execOf(c: Context<AppEnv>): ExecutionContext | undefined {
  try {
    return c.executionCtx as unknown as ExecutionContext;
  } catch {
    return undefined;
  }
}

export function ctxOf(c: Context<AppEnv>): Ctx {
  const cfg = c.get('cfg');
  const url = new URL(c.req.url);
  const exec = execOf(c);
  let trace = c.get('trace');
  if (!trace) c.set('trace', (trace = {}));
  return {
    env: c.env,
    cfg,
    ledger: c.get('ledger'),
    key: c.get('key'),
    origin: url.origin,
    urlRules: { insecure: cfg.ALLOW_INSECURE_URLS, ownHosts: [url.host, ...(cfg.workerHost ? [cfg.workerHost] : [])] },
    exec,
    requestId: c.get('requestId') ?? null,
    trace,
  };
}
