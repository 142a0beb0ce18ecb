// `npm run dev`: the gateway on embedded defaults — Durable Object ledger, local R2 (miniflare), and local
// stand-ins for fal and the ComfyUI worker unless real ones are configured (FAL_KEY / WORKER_URL in the
// environment or .dev.vars). Prints a ready-to-paste curl session.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { startFal } from '../test/standins/fal.mjs';
import { startComfy } from '../test/standins/comfy.mjs';

const PORT = Number(process.env.PORT ?? 8787);
const fromFile = existsSync('.dev.vars')
  ? Object.fromEntries(readFileSync('.dev.vars', 'utf8').split('\n').map((l) => l.match(/^\s*([A-Z0-9_]+)\s*=\s*"?(.*?)"?\s*$/)).filter(Boolean).map((m) => [m[1], m[2]]))
  : {};
const configured = (name) => process.env[name] ?? fromFile[name];

const vars = {
  ADMIN_TOKEN: configured('ADMIN_TOKEN') ?? 'dev-admin-token',
  SIGNING_SECRET: configured('SIGNING_SECRET') ?? 'dev-signing-secret-change-me-0123456789abcdef',
  TEST_API_KEY: configured('TEST_API_KEY') ?? 'phi_test_local_shared_key',
};
const stops = [];

if (!configured('FAL_KEY')) {
  const fal = await startFal({ key: 'local-fal-key', port: Number(process.env.FAL_STANDIN_PORT ?? 8790) });
  stops.push(() => fal.close());
  // The stand-in's CDN is plain http on loopback: allow exactly its origin (fal's real CDN stays the default).
  // Its webhooks are signed with its own key, published at its own JWKS URL.
  Object.assign(vars, { FAL_KEY: 'local-fal-key', FAL_RUN_URL: fal.runUrl, FAL_QUEUE_URL: fal.queueUrl, FAL_MEDIA_HOSTS: fal.origin, FAL_JWKS_URL: fal.jwksUrl });
  console.log(`[dev] fal stand-in on ${fal.origin} (set FAL_KEY to use the real fal.ai)`);
}
if (!configured('WORKER_URL')) {
  const comfy = await startComfy({ token: 'local-worker-token', port: Number(process.env.WORKER_STANDIN_PORT ?? 8791) });
  stops.push(() => comfy.close());
  Object.assign(vars, { WORKER_URL: comfy.url, WORKER_TOKEN: 'local-worker-token' });
  console.log(`[dev] ComfyUI stand-in on ${comfy.url} (set WORKER_URL to use a real worker)`);
}

const args = ['dev', '--ip', '127.0.0.1', '--port', String(PORT), '--show-interactive-dev-session=false'];
// For running several at once (the test suite starts one): another inspector port and state directory.
if (process.env.INSPECTOR_PORT) args.push('--inspector-port', process.env.INSPECTOR_PORT);
if (process.env.PERSIST_TO) args.push('--persist-to', process.env.PERSIST_TO);
for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
const child = spawn('wrangler', args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } });

const base = `http://127.0.0.1:${PORT}`;
console.log(`
[dev] gateway starting on ${base}
  admin token : ${vars.ADMIN_TOKEN}
  test key    : ${vars.TEST_API_KEY}  (free tier → worker)
  try:
    curl -s ${base}/healthz
    KEY=$(curl -s -X POST ${base}/admin/keys -H "Authorization: Bearer ${vars.ADMIN_TOKEN}" \\
      -H 'content-type: application/json' -d '{"tier":"paid","credits_micro":1000000}' | sed -E 's/.*"key":"([^"]+)".*/\\1/')
    curl -s ${base}/v1/images/generations -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \\
      -d '{"model":"krea-2","prompt":"a calm clinic waiting room, soft light"}'
`);

const shutdown = async () => {
  child.kill('SIGTERM');
  for (const stop of stops) await stop().catch(() => {});
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
child.on('exit', async (code) => {
  for (const stop of stops) await stop().catch(() => {});
  process.exit(code ?? 0);
});
