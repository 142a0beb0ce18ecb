// The bottom of the import graph: bindings as the runtime hands them over. Nothing here imports the layers above;
// the ledger types its namespace (src/ledger/durable/client.ts) and the queue its messages (src/jobs/queue.ts).

/** Bindings and variables as wrangler passes them (all vars arrive as strings). */
export interface Env {
  /** The embedded ledger's Durable Object namespace (class LedgerStore). */
  LEDGER: DurableObjectNamespace;
  MEDIA?: R2Bucket;
  FAL_KEY?: string;
  FAL_RUN_URL?: string;
  FAL_QUEUE_URL?: string;
  FAL_IMAGE_MODEL?: string;
  FAL_VIDEO_MODEL?: string;
  FAL_VIDEO_I2V_MODEL?: string;
  FAL_AVATAR_MODEL?: string;
  /** fal image-to-image endpoint for /v1/images/edits (default FLUX.1 Krea: fal-ai/flux-1/krea/image-to-image). */
  FAL_IMAGE_EDIT_MODEL?: string;
  /** fal endpoint for edits with several input images (takes `image_urls`); `off` refuses them. */
  FAL_IMAGE_MULTI_EDIT_MODEL?: string;
  WORKER_URL?: string;
  WORKER_TOKEN?: string;
  WORKER_AWS_ACCESS_KEY_ID?: string;
  WORKER_AWS_SECRET_ACCESS_KEY?: string;
  WORKER_AWS_REGION?: string;
  WORKER_AWS_SERVICE?: string;
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  TEST_API_KEY?: string;
  ADMIN_TOKEN?: string;
  SIGNING_SECRET?: string;
  MEDIA_URL_TTL_SECONDS?: string;
  PRICE_MARGIN_BPS?: string;
  /** Extension: deadline for one synchronous provider call (default 120). */
  UPSTREAM_TIMEOUT_SECONDS?: string;
  /** A synchronous image's whole upstream budget, retries and fallbacks included, ms (default 90000; at most the timeout). */
  UPSTREAM_DEADLINE_MS?: string;
  /** Attempts per upstream endpoint for a synchronous image (default 3: two retries). */
  UPSTREAM_MAX_ATTEMPTS?: string;
  /** Consecutive failed requests that open an upstream's circuit breaker (default 5). */
  BREAKER_THRESHOLD?: string;
  /** How long an open breaker answers 503 before one probe goes through, ms (default 30000). */
  BREAKER_COOLDOWN_MS?: string;
  /** The worker gets no new image while this many prompts are queued or running on it (default 0: off). */
  WORKER_MAX_QUEUE?: string;
  /** JSON: per image model, other fal endpoints tried when the primary fails retryably ({"krea-2": [{"endpoint", "base_micro"}]}). */
  FALLBACKS?: string;
  /** Local development only: http and loopback customer URLs (default false). */
  ALLOW_INSECURE_URLS?: string;
  /** The shared test key's requests per minute (default 10). */
  TEST_KEY_RPM?: string;
  /** JSON object extending the model-name aliases: {"name": "krea-2" | "wan" | "avatar"}, "prefix*" for prefixes. */
  MODEL_ALIASES?: string;
  /** Deadline of one ledger call, ms (default 3000). */
  STORE_TIMEOUT_MS?: string;
  /** A video job not finished this many seconds after it was created is cancelled at the provider and fails, unbilled (default 3600). */
  VIDEO_JOB_DEADLINE_SEC?: string;
  /** Queue of follow-up work: compensations whose outcome was unknown (and the job watcher). */
  JOBS?: Queue;
  /** Hosts fal outputs may be fetched from (default fal's CDN: fal.media, *.fal.media). */
  FAL_MEDIA_HOSTS?: string;
  /** fal's webhook signing keys (JWKS); the stand-in serves its own in tests and npm run dev. */
  FAL_JWKS_URL?: string;
  /** Browser origins allowed to call /v1 (comma-separated, or *). */
  CORS_ORIGINS?: string;
  /** How long audit records are kept (days, default 400). */
  AUDIT_RETENTION_DAYS?: string;
  /** `block` (default) | `off`: screen generation requests for direct patient identifiers and DICOM uploads. */
  PHI_SCAN?: string;
  /** `eu` | `us` | `fedramp` | `fedramp-high`: every Durable Object is reached through namespace.jurisdiction(). */
  DATA_JURISDICTION?: string;
  /** Re-hosted outputs are deleted by the gateway this many hours after they were written (default 24). */
  MEDIA_RETENTION_HOURS?: string;
  /** Optional Workers Analytics Engine dataset: one data point per request (src/http/log.ts); unbound, none. */
  METRICS?: AnalyticsEngineDataset;
}
