import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';
import { JsonReporter } from 'vitest/node';

/** vitest's JSON report (.ci/run reads it), written without a "JSON report written to …" line after the summary. */
class QuietJsonReporter extends JsonReporter {
  override async writeReport(report: string): Promise<void> {
    await writeFile(path.resolve(this.ctx.config.root, String(this.options.outputFile)), report, 'utf8');
  }
}

export default defineConfig({
  test: {
    // Most of the suite waits on stand-ins and timers, not on the CPU: run three files at once even on a 2-CPU machine
    // (vitest's default there would be one).
    maxWorkers: 3,
    // The run ends with vitest's own summary, nothing after it.
    reporters: ['default', new QuietJsonReporter({ outputFile: '.test-results.json' })],
    // The gateway's one-line-per-request logs are asserted on where it matters (test/privacy.test.ts); elsewhere
    // they would drown the report.
    onConsoleLog: (log: string) => !log.startsWith('{"request_id":'),
    projects: [
      {
        // Everything that runs inside workerd: the gateway itself, its stores, the SDK as a client.
        plugins: [
          cloudflareTest(async ({ inject }) => ({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              bindings: {
                ADMIN_TOKEN: 'test-admin-token',
                SIGNING_SECRET: 'test-signing-secret-0123456789abcdef0123456789',
                TEST_API_KEY: 'phi_test_shared_key',
                FAL_KEY: 'test-fal-key',
                FAL_RUN_URL: inject('falRunUrl'),
                FAL_QUEUE_URL: inject('falQueueUrl'),
                // The stand-in's CDN is plain http on loopback: allowed by naming its scheme explicitly.
                FAL_MEDIA_HOSTS: inject('falOrigin'),
                FAL_JWKS_URL: inject('falJwksUrl'),
                WORKER_URL: inject('workerUrl'),
                WORKER_TOKEN: 'test-worker-token',
              },
            },
          })),
        ],
        test: {
          name: 'workers',
          globalSetup: ['./test/global-setup.ts'],
          include: ['test/**/*.test.ts'],
          exclude: ['test/node/**'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        // Tests from outside: the local dev server as a process, and (later) a real browser.
        test: {
          name: 'node',
          environment: 'node',
          include: ['test/node/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
