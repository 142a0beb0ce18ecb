// Runs in Node before the workerd test pool: starts real Redis behind the Upstash-REST stand-in, and the fal and
// ComfyUI stand-ins. Code inside workerd reaches them on host loopback; their addresses are passed in with provide().
import type { TestProject } from 'vitest/node';
import { startRedis, startRedisControl } from './standins/redis.mjs';
import { startUpstash } from './standins/upstash.mjs';
import { startFal } from './standins/fal.mjs';
import { startComfy } from './standins/comfy.mjs';
import { startFiles } from './standins/files.mjs';
import { startReceiver } from './standins/receiver.mjs';
import { startFaultProxy } from './standins/fault-proxy.mjs';

export const FAL_KEY = 'test-fal-key';
export const WORKER_TOKEN = 'test-worker-token';
export const UPSTASH_TOKEN = 'test-upstash-token';
export const SIGV4 = { accessKeyId: 'AKIDTESTWORKER', secretAccessKey: 'test-worker-secret-key', region: 'us-east-1', service: 'execute-api' };

declare module 'vitest' {
  export interface ProvidedContext {
    falRunUrl: string;
    falQueueUrl: string;
    falOrigin: string;
    workerUrl: string;
    upstashUrl: string;
    /** The Upstash stand-in behind a fault-injecting proxy ('' when Redis is missing). */
    faultyUpstashUrl: string;
    /** An Upstash stand-in on a Redis of its own that tests may freeze (SIGSTOP) through `redisControlUrl`. */
    freezableUpstashUrl: string;
    /** POST /freeze and /thaw send SIGSTOP / SIGCONT to that Redis. */
    redisControlUrl: string;
    /** A ComfyUI stand-in for wrong-shaped answers (its /queue can be broken for everyone on it). */
    faultyWorkerUrl: string;
    upstashToken: string;
    deadUrl: string;
    sigv4WorkerUrl: string;
    filesUrl: string;
    /** Where the fal stand-in publishes its webhook signing keys. */
    falJwksUrl: string;
    /** A customer's webhook endpoint (POST /hook/<name>; /__fail/<name>?times=N; /__deliveries/<name>). */
    receiverUrl: string;
    ci: boolean;
    /** FUZZ_SEED / FUZZ_RUNS from the host environment (workerd has none of its own). */
    fuzz: { seed: number; runs: number };
  }
}

export default async function setup(project: TestProject) {
  const stops: Array<() => Promise<void>> = [];
  project.provide('ci', process.env.CI === 'true');
  project.provide('fuzz', { seed: Number(process.env.FUZZ_SEED ?? 20261122), runs: Number(process.env.FUZZ_RUNS ?? 150) });
  try {
    const redis = await startRedis();
    stops.push(() => redis.stop());
    const upstash = await startUpstash({ redisPort: redis.port, token: UPSTASH_TOKEN });
    stops.push(() => upstash.close());
    project.provide('upstashUrl', upstash.url);
    project.provide('upstashToken', UPSTASH_TOKEN);
    const faulty = await startFaultProxy({ target: upstash.url });
    stops.push(() => faulty.close());
    project.provide('faultyUpstashUrl', faulty.url);
    // A second Redis that tests can really freeze, so no other test file's store stops with it.
    const frozenRedis = await startRedis();
    stops.push(() => frozenRedis.stop());
    const control = await startRedisControl(frozenRedis.pid);
    stops.push(() => control.close());
    const freezable = await startUpstash({ redisPort: frozenRedis.port, token: UPSTASH_TOKEN });
    stops.push(() => freezable.close());
    project.provide('freezableUpstashUrl', freezable.url);
    project.provide('redisControlUrl', control.url);
  } catch (err) {
    // Locally a missing redis-server is reported by the Upstash suites themselves; under CI it is a failure.
    if (process.env.CI === 'true') throw err;
    console.warn(`[global-setup] ${(err as Error).message}`);
    project.provide('upstashUrl', '');
    project.provide('faultyUpstashUrl', '');
    project.provide('freezableUpstashUrl', '');
    project.provide('redisControlUrl', '');
    project.provide('upstashToken', UPSTASH_TOKEN);
  }
  // fal behind a path prefix, to prove FAL_RUN_URL / FAL_QUEUE_URL prefixes are honoured.
  const fal = await startFal({ key: FAL_KEY, prefix: '/fal' });
  stops.push(() => fal.close());
  const comfy = await startComfy({ token: WORKER_TOKEN });
  stops.push(() => comfy.close());
  // A second worker behind AWS SigV4 auth (as behind an IAM-authenticated endpoint).
  const sigv4 = await startComfy({ sigv4: SIGV4, prefix: '/sigv4' });
  stops.push(() => sigv4.close());
  project.provide('sigv4WorkerUrl', sigv4.url);
  const faultyComfy = await startComfy({ token: WORKER_TOKEN, prefix: '/faulty' });
  stops.push(() => faultyComfy.close());
  project.provide('faultyWorkerUrl', faultyComfy.url);
  const files = await startFiles();
  stops.push(() => files.close());
  project.provide('filesUrl', files.url);
  project.provide('falRunUrl', fal.runUrl);
  project.provide('falQueueUrl', fal.queueUrl);
  project.provide('falOrigin', fal.origin);
  project.provide('falJwksUrl', fal.jwksUrl);
  const receiver = await startReceiver();
  stops.push(() => receiver.close());
  project.provide('receiverUrl', receiver.url);
  project.provide('workerUrl', comfy.url);
  // An address nothing listens on: an unreachable store or provider.
  project.provide('deadUrl', 'http://127.0.0.1:9');
  return async () => {
    for (const stop of stops.reverse()) await stop();
  };
}
