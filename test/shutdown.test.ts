/**
 * Issue 8, finding 8: a bounded grace period. After SIGTERM (or SIGINT, or SIGHUP,
 * taken as SIGTERM) no run starts; the runs in progress get a few seconds, then are
 * abandoned (they stay to be done: the file is resumable) and the CLI says so and
 * exits 143 (130, 129). A sweep whose runs all ended within the grace period had
 * nothing left to do: exit 0, complete. Real processes, real signals.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readManifest, rowsIn, scratch, sleep, start, waitFor, type StartOptions } from './child.js';

/** What the CLI gives the runs in progress (src/cli.ts GRACE_MS). */
const GRACE_S = 5;
/** Starting the CLI, closing the pool and writing the files, on a loaded machine. */
const MARGIN_S = 6;

/** Two Adam runs of 100 000 updates on 100 000 parameters (the SIMD kernel): far
 * longer than the grace period. */
const LONG = {
  name: 'long',
  problem: { name: 'quadratic', dim: 100000, condition: 100 },
  optimizers: ['adam'],
  seeds: [0, 1],
  steps: 100000,
};
/** Two runs of about a second each: they end within the grace period. */
const SHORT = { ...LONG, name: 'short', steps: 3000 };

const tmp = scratch('sweep-shutdown-', { long: LONG, short: SHORT });
const long = join(tmp, 'long.json');
const short = join(tmp, 'short.json');

/** Starts a sweep, signals it once its runs are under way, and times the exit. */
async function signalled(config: string, label: string, signal: NodeJS.Signals, options?: StartOptions) {
  const out = join(tmp, `${label}.csv`);
  const child = start([config, '--out', out, '--workers', '2'], options);
  // The header is written just before the first runs are submitted.
  await waitFor('the header', () => existsSync(out) && readFileSync(out).includes('\n'), child.exited);
  await sleep(300);
  const sent = Date.now();
  child.kill(signal);
  const exit = await child.exit;
  return { out, exit, seconds: (Date.now() - sent) / 1000 };
}

describe('runs longer than the grace period', () => {
  it.concurrent.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
    ['SIGHUP', 129],
  ] as const)('%s: abandoned after the grace period, said so, exit %i, resumable', async (signal, code) => {
    const { out, exit, seconds } = await signalled(long, `long-${signal}`, signal);
    expect(exit.code, exit.stderr).toBe(code);
    expect(seconds).toBeGreaterThanOrEqual(GRACE_S - 0.5);
    expect(seconds).toBeLessThan(GRACE_S + MARGIN_S);
    expect(exit.stderr).toContain(`${GRACE_S} s to finish`);
    expect(exit.stderr).toContain('abandoned; they will run again on --resume');
    expect(exit.stderr).toContain(`interrupted with 2 of 2 runs not done; to finish:`);
    expect(exit.stderr).toContain(`--out ${out} --resume`);
    expect(exit.stderr).not.toMatch(/^\s+at /m);
    expect(rowsIn(out)).toBe(0);
    expect(readManifest(out)).toMatchObject({ complete: false, runs: 2 });
    expect(existsSync(`${out}.lock`), 'the lock is released').toBe(false);
  });

  it('the same under an address-space limit (the CLI relaunched without the trap handler passes the signal on)', async () => {
    const { exit, seconds } = await signalled(long, 'long-limited', 'SIGTERM', { limits: 'ulimit -v 8000000' });
    expect(exit.code, exit.stderr).toBe(143);
    expect(seconds).toBeLessThan(GRACE_S + MARGIN_S);
    expect(exit.stderr).toContain('abandoned');
  });
});

describe('runs that end within the grace period', () => {
  it('SIGTERM while they run: they finish, nothing is left to do, exit 0 and complete', async () => {
    const { out, exit, seconds } = await signalled(short, 'short', 'SIGTERM');
    expect(exit.code, exit.stderr).toBe(0);
    expect(seconds).toBeLessThan(GRACE_S);
    expect(exit.stderr, 'the signal came while the runs were in progress').toContain('no new runs');
    expect(exit.stderr).not.toContain('interrupted');
    expect(exit.stderr).not.toContain('abandoned');
    expect(rowsIn(out)).toBe(2);
    expect(readManifest(out).complete).toBe(true);
  });
});
