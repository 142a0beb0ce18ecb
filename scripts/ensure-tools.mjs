// Makes sure the system tools the tests use are installed: redis-server (the Upstash ledger tests run against real
// Redis), curl and jq (the README walkthrough is run literally against `npm run dev`), and Debian's chromium (the
// pages the gateway serves — /docs and the /admin console — are tested in a real browser with playwright-core). On a fresh Debian machine as
// root the missing ones are installed with apt (after apt-get update); otherwise it says what is missing, and under
// CI=true that is a failure.
import { execFileSync, spawnSync } from 'node:child_process';

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
/** command → Debian package */
const TOOLS = { 'redis-server': 'redis-server', curl: 'curl', jq: 'jq', chromium: 'chromium' };

const missing = Object.entries(TOOLS).filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg);
if (missing.length) {
  const root = process.getuid?.() === 0;
  if (root && has('apt-get')) {
    console.log(`[ensure-tools] missing: ${missing.join(', ')}: installing with apt-get`);
    execFileSync('apt-get', ['update'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } else {
    const msg = `[ensure-tools] not installed: ${missing.join(', ')} (sudo apt-get install ${missing.join(' ')})`;
    if (process.env.CI === 'true') {
      console.error(msg);
      process.exit(1);
    }
    console.warn(`${msg}; the tests that need them will be skipped`);
  }
}
