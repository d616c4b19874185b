/**
 * `npm run sweep -- CONFIG --redis URL` and `npm run worker -- --redis URL` as a user
 * runs them, every one a real process against a real redis-server
 * (scripts/redis-server.ts): Redis unreachable, a password that never shows, Ctrl-C and
 * --resume, a coordinator SIGKILLed and resumed from the results its workers stored
 * meanwhile, and Redis lost mid-sweep.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { fingerprint } from '../src/manifest.js';
import {
  REDIS_SERVER,
  SWEEP_CLI,
  WORKER_CLI,
  freePort,
  makeCertificates,
  run,
  startRedis,
  startWorker,
  waitFor,
  untimed,
  type RedisServer,
  type WorkerProcess,
} from '../scripts/redis-server.js';

const LOCK_MS = 2000;
const dir = mkdtempSync(join(tmpdir(), 'sweep-redis-cli-'));

/** Runs of tens of milliseconds, one per batch (the coordinator is told of 1 thread):
 * a sweep that can be caught half done. */
const SLOW = {
  name: 'redis-cli-slow',
  problem: { name: 'quadratic', dim: 100_000, condition: 10 },
  optimizers: ['sgd', 'momentum', 'adam', 'rmsprop'],
  lr: [0.01, 0.02, 0.05, 0.1, 0.2],
  seeds: [0, 1],
  steps: 150,
};
const slowConfig = join(dir, 'slow.json');
writeFileSync(slowConfig, JSON.stringify(SLOW));
const slowPlan = parseConfig(JSON.stringify(SLOW), slowConfig);

/** The CSV file's rows without the timing column. */
const untimedRows = (path: string): string[] => untimed(readFileSync(path, 'utf8')).split('\n');
const dataRows = (path: string): number =>
  existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length - 1 : 0;

let localSlow: string[] | undefined;
async function local(config: string): Promise<string[]> {
  const out = join(dir, `local-${Math.random().toString(36).slice(2)}.csv`);
  const r = await run([SWEEP_CLI, config, '--out', out, '--workers', '2']).done;
  expect(r.code).toBe(0);
  return untimedRows(out);
}

describe.skipIf(!REDIS_SERVER)('npm run sweep -- --redis, npm run worker', () => {
  let redis: RedisServer;
  const workers: WorkerProcess[] = [];
  const worker = async (url: string): Promise<WorkerProcess> => {
    const w = await startWorker(url, { lockMs: LOCK_MS });
    workers.push(w);
    return w;
  };
  const stop = async (w: WorkerProcess): Promise<void> => {
    w.child.kill('SIGTERM');
    expect((await w.exited).code).toBe(0);
  };

  beforeAll(async () => {
    redis = await startRedis();
    localSlow = await local(slowConfig);
  });
  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('Redis unreachable at start: one line, exit 1, no file touched; the worker likewise', async () => {
    const port = await freePort();
    const out = join(dir, 'unreachable.csv');
    const r = await run([SWEEP_CLI, 'configs/grid.json', '--redis', `redis://127.0.0.1:${port}`, '--out', out]).done;
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`sweep: cannot reach Redis at redis://127.0.0.1:${port}: ECONNREFUSED\n`);
    expect(readdirSync(dir).filter((f) => f.startsWith('unreachable'))).toEqual([]);
    const w = await run([WORKER_CLI, '--redis', `redis://127.0.0.1:${port}`]).done;
    expect(w.code).toBe(1);
    expect(w.stderr).toBe(`worker: cannot reach Redis at redis://127.0.0.1:${port}: ECONNREFUSED\n`);
  });

  it('a bad URL is bad input: one line, exit 2', async () => {
    const r = await run([SWEEP_CLI, 'configs/grid.json', '--redis', 'http://:pw-in-http@127.0.0.1:1']).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'sweep: --redis http://:***@127.0.0.1:1: the scheme must be redis:// or rediss:// (TLS), got http://\n',
    );
  });

  describe('with a password', () => {
    const PASSWORD = 's3cret-Pw-4711';
    let locked: RedisServer;
    beforeAll(async () => {
      locked = await startRedis({ password: PASSWORD });
    });
    afterAll(() => locked?.stop());

    it('works; Ctrl-C prints the resume command with the password hidden; --resume finishes; it shows nowhere', async () => {
      const w = await worker(locked.url);
      const out = join(dir, 'locked.csv');
      const first = run([SWEEP_CLI, slowConfig, '--redis', locked.url, '--workers', '1', '--out', out]);
      await waitFor(() => dataRows(out) >= 3, 30_000, 'some rows');
      first.child.kill('SIGINT');
      const a = await first.done;
      expect(a.code).toBe(130);
      const shown = `redis://:***@127.0.0.1:${locked.port}`;
      // Shell-quoted: the * of the hidden password would be a glob.
      expect(a.stderr).toContain(`npm run sweep -- ${slowConfig} --out ${out} --redis '${shown}' --resume`);
      expect(dataRows(out)).toBeLessThan(slowPlan.total);
      const b = await run([SWEEP_CLI, slowConfig, '--redis', locked.url, '--workers', '1', '--out', out, '--resume'])
        .done;
      expect(b.code).toBe(0);
      expect(untimedRows(out)).toEqual(localSlow);
      await stop(w);
      const everything = [a.stdout, a.stderr, b.stdout, b.stderr, w.output(), readFileSync(out, 'utf8')];
      everything.push(readFileSync(`${out}.sweep.json`, 'utf8'));
      for (const text of everything) expect(text).not.toContain(PASSWORD);
      await waitFor(() => locked.keys().length === 0, 4 * LOCK_MS, 'no keys left');
    });

    it('a wrong password, or none: one line with the password hidden, exit 1', async () => {
      const wrong = `redis://:Wr0ng-pw-99@127.0.0.1:${locked.port}`;
      const r = await run([SWEEP_CLI, 'configs/grid.json', '--redis', wrong, '--out', join(dir, 'wrong.csv')]).done;
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^sweep: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: WRONGPASS[^\n]*\n$/);
      expect(r.stderr).not.toContain('Wr0ng-pw-99');
      const none = await run([SWEEP_CLI, 'configs/grid.json', '--redis', `redis://127.0.0.1:${locked.port}`]).done;
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(/^sweep: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+: NOAUTH[^\n]*\n$/);
      expect(existsSync(join(dir, 'wrong.csv'))).toBe(false);
    });
  });

  it('rediss:// speaks TLS, verified against the CA given in NODE_EXTRA_CA_CERTS; refused without it', async () => {
    const tls = makeCertificates(mkdtempSync(join(dir, 'tls-')));
    if (!tls) return void console.log('TLS test skipped: no openssl');
    const secure = await startRedis({ tls });
    try {
      expect(secure.url).toBe(`rediss://127.0.0.1:${secure.port}`);
      const env = { ...process.env, NODE_EXTRA_CA_CERTS: tls.ca };
      const w = await startWorker(secure.url, { lockMs: LOCK_MS, env });
      workers.push(w);
      const out = join(dir, 'tls.csv');
      const r = await run([SWEEP_CLI, 'configs/grid.json', '--redis', secure.url, '--out', out], { env }).done;
      expect(r.code).toBe(0);
      expect(untimedRows(out)).toEqual(await local('configs/grid.json'));
      await stop(w);
      const untrusted = await run([SWEEP_CLI, 'configs/grid.json', '--redis', secure.url]).done;
      expect(untrusted.code).toBe(1);
      expect(untrusted.stderr).toMatch(/^sweep: cannot reach Redis at rediss:\/\/127\.0\.0\.1:\d+: \S[^\n]*\n$/);
      expect(untrusted.stderr).toMatch(/certificate|UNABLE|SELF_SIGNED/i);
    } finally {
      await secure.stop();
    }
  });

  /** Rows the manifest beside `csv` vouches for (synced), the header aside. */
  const vouchedRows = (csv: string): number => {
    try {
      return (
        (JSON.parse(readFileSync(`${csv}.sweep.json`, 'utf8')) as { durable?: { lines: number } }).durable!.lines - 1
      );
    } catch {
      return 0;
    }
  };

  it('a coordinator SIGKILLed mid-sweep: --resume reuses the results the workers stored meanwhile', async () => {
    const w1 = await worker(redis.url);
    const out = join(dir, 'killed.csv');
    const first = run([SWEEP_CLI, slowConfig, '--redis', redis.url, '--workers', '1', '--out', out]);
    // Rows count once the manifest vouches for them (a sync): later ones are run again.
    await waitFor(() => vouchedRows(out) >= 3, 30_000, 'some rows synced');
    first.child.kill('SIGKILL');
    await first.done;
    // The batches it had queued go on without it, into the results hash.
    const fp = fingerprint(slowPlan);
    await waitFor(
      () => redis.cli('LLEN', `sweep:${fp}:wait`) === '0' && redis.cli('LLEN', `sweep:${fp}:active`) === '0',
      30_000,
      'the queued batches to be done',
    );
    await stop(w1);
    const w2 = await worker(redis.url);
    const b = await run([SWEEP_CLI, slowConfig, '--redis', redis.url, '--workers', '1', '--out', out, '--resume']).done;
    expect(b.code).toBe(0);
    const from = Number(/resuming \S+: (\d+) of \d+ runs already done/.exec(b.stdout)?.[1]);
    expect(from).toBeGreaterThanOrEqual(3);
    await stop(w2);
    expect(untimedRows(out)).toEqual(localSlow);
    // Every run after `from` that a stored result covered was not run again.
    expect(w1.batchesRun()).toBeGreaterThan(from);
    expect(w2.batchesRun()).toBeLessThan(slowPlan.total - from);
    // (Not exactly the rest: under load a worker may miss a lock renewal, and a batch
    // delivered twice is run twice, though passed on once.)
    expect(w1.batchesRun() + w2.batchesRun()).toBeGreaterThanOrEqual(slowPlan.total);
    await waitFor(() => redis.keys().length === 0, 4 * LOCK_MS, 'no keys left');
  });

  it('Redis lost mid-sweep: one line, exit 1, for the sweep and the worker; the CSV resumes', async () => {
    const lost = await startRedis();
    const w = await worker(lost.url);
    const out = join(dir, 'lost.csv');
    const first = run([SWEEP_CLI, slowConfig, '--redis', lost.url, '--workers', '1', '--out', out]);
    await waitFor(() => dataRows(out) >= 3, 30_000, 'some rows');
    await lost.kill();
    const a = await first.done;
    expect(a.code).toBe(1);
    expect(a.stderr).toBe(`sweep: lost Redis at redis://127.0.0.1:${lost.port} (ECONNREFUSED)\n`);
    const ended = await w.exited;
    expect(ended.code).toBe(1);
    expect(w.output().trimEnd().split('\n').at(-1)).toBe(`worker: lost Redis at redis://127.0.0.1:${lost.port}`);
    const again = await startRedis({ port: lost.port });
    try {
      const w2 = await worker(again.url);
      const b = await run([SWEEP_CLI, slowConfig, '--redis', again.url, '--workers', '1', '--out', out, '--resume'])
        .done;
      expect(b.code).toBe(0);
      await stop(w2);
      expect(untimedRows(out)).toEqual(localSlow);
    } finally {
      await again.stop();
    }
  });
});
