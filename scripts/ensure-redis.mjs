// Makes sure redis-server is installed (the Upstash ledger tests run against real Redis).
// On a fresh Debian machine as root it installs it with apt; otherwise it explains what is missing.
import { execFileSync, spawnSync } from 'node:child_process';

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

if (!has('redis-server')) {
  const root = process.getuid?.() === 0;
  if (root && has('apt-get')) {
    console.log('[ensure-redis] redis-server missing: installing it with apt-get');
    execFileSync('apt-get', ['update'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'redis-server'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } else {
    const msg = '[ensure-redis] redis-server is not installed (sudo apt-get install redis-server)';
    if (process.env.CI === 'true') {
      console.error(msg);
      process.exit(1);
    }
    console.warn(`${msg}; the Upstash ledger tests will be skipped`);
  }
}
