/**
 * Issue 8, finding 2: one writer per output. Two real processes on one file: while a
 * sweep writes its CSV (or its curves), a second sweep on the same file, with
 * --resume or --force, is refused with one line naming the first one's pid, exit 2,
 * and the first finishes the CSV of an undisturbed sweep. A lock left by a writer
 * that is gone (killed, or a pid reused since) is recognised as stale and taken over.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { oneLine, readManifest, rowsIn, run, scratch, stable, start, waitFor, type Child } from './child.js';

/** 6 × 2 = 12 runs of 300 updates on 20 000 parameters, one per batch: a few
 * seconds on one thread. */
const SLOW = {
  name: 'lock-quadratic',
  problem: { name: 'quadratic', dim: 20000, condition: 100 },
  optimizers: ['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'],
  lr: 0.01,
  seeds: [0, 1],
  steps: 300,
};
const SMALL = { name: 'lock-bowl', problem: { name: 'anisotropic-bowl' }, optimizers: ['sgd', 'adam'], steps: 10 };

const tmp = scratch('sweep-lock-', { slow: SLOW, small: SMALL });
const slow = join(tmp, 'slow.json');
const small = join(tmp, 'small.json');

/** Runs `body` while `child` is stopped (alive, holding its lock, writing nothing), so
 * that it is still at work whatever the machine's load. */
async function paused(child: Child, body: () => Promise<void>): Promise<void> {
  child.kill('SIGSTOP');
  try {
    await body();
  } finally {
    child.kill('SIGCONT');
  }
}

describe('a second writer while the first runs', () => {
  it('is refused, with --resume and with --force (exit 2, one line naming the pid); the first is undisturbed', async () => {
    const out = join(tmp, 'shared.csv');
    const undisturbed = join(tmp, 'reference.csv');
    const alone = run([slow, '--out', undisturbed, '--workers', '1']);
    const first = start([slow, '--out', out, '--workers', '1']);
    await waitFor('the first rows', () => rowsIn(out) >= 1, first.exited);
    await paused(first, async () => {
      for (const how of ['--resume', '--force']) {
        const second = await run([slow, '--out', out, how]);
        expect(second.code, second.stderr).toBe(2);
        const line = oneLine(second.stderr);
        expect(line).toContain(out);
        expect(line).toContain(`another sweep (pid ${first.pid})`);
      }
      expect(first.exited(), 'the first sweep should still be running').toBe(false);
    });
    const done = await first.exit;
    expect(done.code, done.stderr).toBe(0);
    expect((await alone).code).toBe(0);
    expect(stable(readFileSync(out, 'utf8'))).toEqual(stable(readFileSync(undisturbed, 'utf8')));
    expect(readManifest(out).complete).toBe(true);
    expect(existsSync(`${out}.lock`), 'the lock is released').toBe(false);
  });

  it('the same curves file under another --out is refused too', async () => {
    const curves = join(tmp, 'shared-curves.csv');
    const first = start([slow, '--out', join(tmp, 'c1.csv'), '--curves', curves, '--workers', '1']);
    await waitFor('the first curves', () => rowsIn(curves) >= 1, first.exited);
    await paused(first, async () => {
      const second = await run([small, '--out', join(tmp, 'c2.csv'), '--curves', curves, '--force']);
      expect(second.code, second.stderr).toBe(2);
      expect(oneLine(second.stderr)).toContain(`--curves ${curves}: another sweep (pid ${first.pid})`);
      expect(existsSync(join(tmp, 'c2.csv')), 'nothing written for the refused sweep').toBe(false);
    });
    expect((await first.exit).code).toBe(0);
  });
});

/** The pid of a process that has exited. */
function deadPid(): number {
  return Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']));
}

describe('a stale lock is taken over', () => {
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

  it.each([
    ['its writer has exited', () => ({ pid: deadPid(), host: hostname() })],
    // This very process is alive, but started at another time than the lock says.
    ['its pid now belongs to another process', () => ({ pid: process.pid, host: hostname(), start: '1' })],
    ['the machine has rebooted since', () => ({ pid: process.pid, host: hostname(), boot: `${bootId}-before` })],
    ['it is not a lock (torn, empty)', () => 'not json'],
  ])('when %s', async (_why, holder) => {
    const out = join(tmp, `stale-${Math.random().toString(36).slice(2)}.csv`);
    const h = holder();
    writeFileSync(`${out}.lock`, typeof h === 'string' ? h : JSON.stringify(h));
    const r = await run([small, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(readManifest(out).complete).toBe(true);
    expect(existsSync(`${out}.lock`)).toBe(false);
  });

  it('a live lock of this host is not', async () => {
    const out = join(tmp, 'live.csv');
    writeFileSync(`${out}.lock`, JSON.stringify({ pid: process.pid, host: hostname() }));
    const r = await run([small, '--out', out]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toContain(`another sweep (pid ${process.pid})`);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.lock`), "another's lock is left alone").toBe(true);
  });
});

describe('after a SIGKILL', () => {
  it('the lock stays behind, and --resume takes it over and finishes', async () => {
    const out = join(tmp, 'killed.csv');
    const child = start([small, '--out', out, '--workers', '1']);
    // Killed as soon as its lock is there (possibly before a row): the case a stale lock is for.
    await waitFor('the lock', () => existsSync(`${out}.lock`), child.exited);
    child.kill('SIGKILL');
    await child.exit;
    expect(existsSync(`${out}.lock`)).toBe(true);
    const r = await run([small, '--out', out, '--resume']);
    expect(r.code, r.stderr).toBe(0);
    expect(readManifest(out).complete).toBe(true);
  });
});
