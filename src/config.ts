import * as z from 'zod/mini';
import { ApiError } from './http/errors';
import type { Env } from './env';
import { parseHostList, parseOrigins } from './http/urls';
import { aliasTable, findModel, OPENAI_ALIASES, type AliasTable, type Canonical } from './catalog/models';

const str = z.string().check(z.trim(), z.minLength(1));
/** A fal endpoint id (`owner/alias[/path]`); bounded so that a video id carrying it stays within 255 characters. */
const endpoint = z.string().check(z.trim(), z.regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+){1,4}$/), z.maxLength(100));
const opt = z.optional(str);
const url = z.url({ protocol: /^https?$/ });
const withDefault = (fallback: string) => z._default(url, fallback);
const intVar = (fallback: number, min: number, max: number) =>
  z._default(z.coerce.number().check(z.int(), z.gte(min), z.lte(max)), fallback);

const flag = z._default(z.union([z.boolean(), z.stringbool()]), false);

/** fal's CDN hosts (outputs are served from e.g. v3.fal.media, v3b.fal.media). */
export const DEFAULT_FAL_MEDIA_HOSTS = 'fal.media,*.fal.media';

const schema = z.object({
  FAL_KEY: opt,
  FAL_RUN_URL: withDefault('https://fal.run'),
  FAL_QUEUE_URL: withDefault('https://queue.fal.run'),
  FAL_IMAGE_MODEL: z._default(endpoint, 'fal-ai/flux/krea'),
  FAL_VIDEO_MODEL: z._default(endpoint, 'fal-ai/krea-wan-14b/text-to-video'),
  FAL_VIDEO_I2V_MODEL: z._default(endpoint, 'fal-ai/wan/v2.2-a14b/image-to-video'),
  FAL_AVATAR_MODEL: z._default(endpoint, 'fal-ai/infinitalk'),
  FAL_IMAGE_EDIT_MODEL: z._default(endpoint, 'fal-ai/flux-1/krea/image-to-image'),
  // Edits with several input images (image_urls, aspect_ratio, num_images, output_format: Kontext multi's input).
  // `off` switches them off (an empty value means the default): several images are then a 400 naming 'image'.
  FAL_IMAGE_MULTI_EDIT_MODEL: z._default(z.union([endpoint, z.literal('off')]), 'fal-ai/flux-pro/kontext/multi'),
  WORKER_URL: z.optional(url),
  WORKER_TOKEN: opt,
  WORKER_AWS_ACCESS_KEY_ID: opt,
  WORKER_AWS_SECRET_ACCESS_KEY: opt,
  WORKER_AWS_REGION: opt,
  WORKER_AWS_SERVICE: opt,
  UPSTASH_REDIS_REST_URL: z.optional(url),
  UPSTASH_REDIS_REST_TOKEN: opt,
  TEST_API_KEY: opt,
  ADMIN_TOKEN: str,
  SIGNING_SECRET: str.check(z.minLength(32)),
  MEDIA_URL_TTL_SECONDS: intVar(900, 10, 7 * 24 * 3600),
  PRICE_MARGIN_BPS: intVar(1000, 0, 100_000),
  UPSTREAM_TIMEOUT_SECONDS: intVar(120, 1, 900),
  // A synchronous image's upstream work, all attempts and fallbacks included (capped by UPSTREAM_TIMEOUT_SECONDS).
  UPSTREAM_DEADLINE_MS: intVar(90_000, 500, 900_000),
  UPSTREAM_MAX_ATTEMPTS: intVar(3, 1, 10),
  BREAKER_THRESHOLD: intVar(5, 1, 1000),
  BREAKER_COOLDOWN_MS: intVar(30_000, 50, 3_600_000),
  // 0: off. Otherwise the worker is given no new image while this many prompts are queued or running on it.
  WORKER_MAX_QUEUE: intVar(0, 0, 100_000),
  FALLBACKS: opt,
  ALLOW_INSECURE_URLS: flag,
  STORE_TIMEOUT_MS: intVar(3000, 50, 60_000),
  // A video job's lifetime: past it, unfinished, it is cancelled and fails with its hold released. At most 5 h (the
  // 6 h hold less an hour to run: VIDEO_START_TIMEOUT_SEC), so no hold ever outlives the job it covers.
  VIDEO_JOB_DEADLINE_SEC: intVar(3600, 1, 18_000),
  TEST_KEY_RPM: intVar(10, 1, 100_000),
  AUDIT_RETENTION_DAYS: intVar(400, 1, 3650),
  MODEL_ALIASES: opt,
  FAL_MEDIA_HOSTS: z._default(str, DEFAULT_FAL_MEDIA_HOSTS),
  CORS_ORIGINS: opt,
  FAL_JWKS_URL: z._default(url, 'https://rest.alpha.fal.ai/.well-known/jwks.json'),
  PHI_SCAN: z._default(z.enum(['block', 'off']), 'block'),
  DATA_JURISDICTION: z.optional(z.enum(['eu', 'us', 'fedramp', 'fedramp-high'])),
  // Hours, fractions allowed (tests use seconds' worth); at most a year.
  MEDIA_RETENTION_HOURS: z._default(z.coerce.number().check(z.gt(0), z.lte(24 * 365)), 24),
});

type Vars = z.infer<typeof schema>;

export interface Config extends Vars {
  /** Host URLs without a trailing slash, so `${base}/${path}` is always right (path prefixes kept). */
  falRunBase: string;
  falQueueBase: string;
  workerBase: string | null;
  workerAuth: { kind: 'bearer'; token: string } | { kind: 'sigv4'; accessKeyId: string; secretAccessKey: string; region?: string; service?: string } | null;
  upstash: { url: string; token: string } | null;
  /** Allow-list of hosts fal outputs may be fetched from (parsed FAL_MEDIA_HOSTS). */
  falMediaHosts: ReturnType<typeof parseHostList>;
  /** `host[:port]` of the worker, which a customer URL may never name. */
  workerHost: string | null;
  /** OpenAI's exact model ids (OPENAI_ALIASES) and MODEL_ALIASES, onto the canonical models. */
  modelAliases: AliasTable;
  /** Parsed CORS_ORIGINS. */
  corsOrigins: ReturnType<typeof parseOrigins>;
  /** Parsed FALLBACKS: per image model, the other fal endpoints tried in order, with their base prices. */
  fallbacks: Fallbacks;
}

const cache = new WeakMap<object, Config>();

/** Parses and validates the environment once per isolate (per env object). */
export function getConfig(env: Env): Config {
  let cfg = cache.get(env);
  if (!cfg) {
    cfg = parseConfig(env);
    cache.set(env, cfg);
  }
  return cfg;
}

const trimSlash = (u: string) => u.replace(/\/+$/, '');

export function parseConfig(env: Env): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(schema.def.shape)) {
    const v = (env as unknown as Record<string, unknown>)[key];
    // An empty var is treated as unset, so `FOO = ""` in wrangler.toml means "use the default".
    if (typeof v === 'string' && v.trim() === '') continue;
    raw[key] = v;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const names = [...new Set(parsed.error.issues.map((i) => String(i.path[0])))];
    const missing = names.filter((n) => raw[n] === undefined);
    const what = missing.length
      ? `missing required setting ${missing.join(', ')}`
      : `invalid setting ${names.join(', ')}`;
    throw configError(what);
  }
  const v = parsed.data;
  const aws = [v.WORKER_AWS_ACCESS_KEY_ID, v.WORKER_AWS_SECRET_ACCESS_KEY];
  if (aws.some(Boolean) && !aws.every(Boolean)) {
    throw configError('missing required setting WORKER_AWS_ACCESS_KEY_ID / WORKER_AWS_SECRET_ACCESS_KEY (both or neither)');
  }
  if (Boolean(v.UPSTASH_REDIS_REST_URL) !== Boolean(v.UPSTASH_REDIS_REST_TOKEN)) {
    throw configError(
      `missing required setting ${v.UPSTASH_REDIS_REST_URL ? 'UPSTASH_REDIS_REST_TOKEN' : 'UPSTASH_REDIS_REST_URL'}`,
    );
  }
  let modelAliases: AliasTable;
  try {
    const extra = v.MODEL_ALIASES ? (JSON.parse(v.MODEL_ALIASES) as unknown) : {};
    if (!extra || typeof extra !== 'object' || Array.isArray(extra)) throw new TypeError('not an object');
    modelAliases = aliasTable(OPENAI_ALIASES, extra as Record<string, string>);
  } catch {
    throw configError('invalid setting MODEL_ALIASES (a JSON object of name → krea-2 | wan | avatar; a trailing * matches a prefix)');
  }
  let corsOrigins: ReturnType<typeof parseOrigins>;
  try {
    corsOrigins = parseOrigins(v.CORS_ORIGINS);
  } catch {
    throw configError('invalid setting CORS_ORIGINS (comma-separated origins like https://app.example.com, or *)');
  }
  let fallbacks: Fallbacks;
  try {
    fallbacks = parseFallbacks(v.FALLBACKS);
  } catch {
    throw configError('invalid setting FALLBACKS (a JSON object: {"krea-2": [{"endpoint": "fal-ai/flux/dev", "base_micro": 25000}, …]}, image models only, at most 3 each)');
  }
  let falMediaHosts: ReturnType<typeof parseHostList>;
  try {
    falMediaHosts = parseHostList(v.FAL_MEDIA_HOSTS);
  } catch {
    throw configError('invalid setting FAL_MEDIA_HOSTS');
  }
  return {
    ...v,
    falMediaHosts,
    fallbacks,
    modelAliases,
    corsOrigins,
    workerHost: v.WORKER_URL ? new URL(v.WORKER_URL).host : null,
    falRunBase: trimSlash(v.FAL_RUN_URL),
    falQueueBase: trimSlash(v.FAL_QUEUE_URL),
    workerBase: v.WORKER_URL ? trimSlash(v.WORKER_URL) : null,
    workerAuth: v.WORKER_AWS_ACCESS_KEY_ID
      ? {
          kind: 'sigv4',
          accessKeyId: v.WORKER_AWS_ACCESS_KEY_ID,
          secretAccessKey: v.WORKER_AWS_SECRET_ACCESS_KEY!,
          region: v.WORKER_AWS_REGION,
          service: v.WORKER_AWS_SERVICE,
        }
      : v.WORKER_TOKEN
        ? { kind: 'bearer', token: v.WORKER_TOKEN }
        : null,
    upstash: v.UPSTASH_REDIS_REST_URL ? { url: v.UPSTASH_REDIS_REST_URL, token: v.UPSTASH_REDIS_REST_TOKEN! } : null,
  };
}

/**
 * Where this deployment keeps its data, as /healthz, /v1/account and `x-phi-region` report it. With Upstash the
 * ledger lives in the operator's Redis database, whose region the operator chose: the gateway cannot see it.
 */
export function residency(cfg: Config): { region: string; ledger: 'durable_object' | 'upstash'; note: string } {
  if (cfg.upstash) {
    return { region: 'upstash', ledger: 'upstash', note: "The ledger is the operator's Upstash Redis database: its region is the residency (chosen when the database was created)" };
  }
  const j = cfg.DATA_JURISDICTION;
  return j
    ? { region: j, ledger: 'durable_object', note: `Every Durable Object is created in the '${j}' jurisdiction` }
    : { region: 'unrestricted', ledger: 'durable_object', note: 'No DATA_JURISDICTION: Durable Objects are placed by Cloudflare without a jurisdiction restriction' };
}

export type Fallbacks = Partial<Record<Canonical, { endpoint: string; baseMicro: number }[]>>;

const fallbackList = z.array(z.strictObject({ endpoint, base_micro: z.number().check(z.int(), z.gte(1), z.lte(100_000_000)) })).check(z.maxLength(3));

/** FALLBACKS: only image models (video submits are never repeated or redirected), each endpoint a fal id. */
function parseFallbacks(raw: string | undefined): Fallbacks {
  if (!raw) return {};
  const json = JSON.parse(raw) as unknown;
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new TypeError('not an object');
  const out: Fallbacks = {};
  for (const [name, list] of Object.entries(json)) {
    const model = findModel(name);
    if (!model || model.id !== name || model.kind !== 'image') throw new TypeError(`not an image model: ${name}`);
    out[model.id] = fallbackList.parse(list).map((f) => ({ endpoint: f.endpoint, baseMicro: f.base_micro }));
  }
  return out;
}

function configError(what: string): ApiError {
  return new ApiError(500, 'config_invalid', `Gateway misconfigured: ${what}`);
}
