import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { REDIS_MISSING_LINE, REDIS_SERVER } from '../scripts/redis-server.js';

/** Builds dist/ (the worker threads and the CLI run the compiled JavaScript). */
export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', root], { stdio: 'inherit' });
  // The Redis tests need a real server: said once here, where they are skipped.
  if (!REDIS_SERVER) {
    if (process.env.CI === 'true') throw new Error(`CI=true: ${REDIS_MISSING_LINE.replace('skipped', 'cannot run')}`);
    process.stderr.write(`${REDIS_MISSING_LINE}\n`);
  }
}
