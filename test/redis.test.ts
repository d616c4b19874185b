/**
 * The BullMQ executor against a real redis-server (scripts/redis-server.ts) and real
 * worker processes (`npm run worker`), with the coordinator in this process
 * (runSweep): the same CSV as the local pool's for 1, 2 and 3 workers, a worker
 * SIGKILLed mid-batch, a worker frozen until its batch ran elsewhere and then let go
 * (the batch delivered twice), a sweep of another engine refused, live progress, and
 * no keys left behind.
 */
import { Queue, QueueEvents } from 'bullmq';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { encode } from '../src/codec.js';
import { parseConfig } from '../src/config/load.js';
import type { Executor } from '../src/executor.js';
import { createExecutor } from '../src/executors/index.js';
import type { Plan } from '../src/grid.js';
import { fingerprint } from '../src/manifest.js';
import type { LiveRun } from '../src/protocol.js';
import { records } from '../src/results.js';
import { runSweep, type Consumer } from '../src/sweep.js';
import { collect } from './helpers.js';
import { RowWriter, columnsOf, headerLine } from '../src/csv.js';
import { runEarlyStopping } from '../src/early.js';
import {
  REDIS_SERVER,
  startRedis,
  startWorker,
  waitFor,
  untimed,
  type RedisServer,
  type WorkerProcess,
} from '../scripts/redis-server.js';

/** Lock duration and stall interval of the workers here: short, so a dead worker's
 * batch moves on quickly. */
const LOCK_MS = 1000;

const grid = parseConfig(
  JSON.stringify({
    name: 'redis-grid',
    problem: { name: 'rosenbrock', dim: 3 },
    optimizers: ['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'],
    lr: [0.0001, 0.001, 0.01, 1],
    momentum: [0.5, 0.9],
    seeds: [0, 1],
    steps: 200,
  }),
  'redis-grid.json',
);
/** Runs of a few hundred milliseconds, batches of a second or more: a batch seen in
 * progress (workers report every half second) is still in progress when it is hit. */
const slow = parseConfig(
  JSON.stringify({
    name: 'redis-slow',
    problem: { name: 'quadratic', dim: 100_000, condition: 10 },
    optimizers: ['sgd', 'adam'],
    lr: [0.01, 0.02, 0.05],
    seeds: [0, 1],
    steps: 2000,
  }),
  'redis-slow.json',
);

/** Every record's curve, as codec text: compared bit for bit. */
function curves(): Consumer & { text: string[] } {
  const text: string[] = [];
  return {
    text,
    accept(batch) {
      for (const r of records(batch)) text.push(encode([r.runId, r.curve]));
    },
  };
}

const local = new Map<Plan, { csv: string; curves: string[] }>();
async function localRun(plan: Plan, curveEvery: number): Promise<{ csv: string; curves: string[] }> {
  let got = local.get(plan);
  if (!got) {
    const executor = createExecutor('piscina', { workers: 2 });
    const c = curves();
    try {
      await executor.ready();
      got = { csv: untimed((await collect(plan, executor, { curveEvery }, [c])).csv), curves: c.text };
    } finally {
      await executor.close();
    }
    local.set(plan, got);
  }
  return got;
}

describe.skipIf(!REDIS_SERVER)('sweeps through BullMQ on a real Redis', () => {
  let redis: RedisServer;
  const workers: WorkerProcess[] = [];
  const executors: Executor[] = [];
  const executor = (threads = 3): Executor => {
    const e = createExecutor('redis', { url: redis.url, workers: threads });
    executors.push(e);
    return e;
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  // A test that failed half-way leaves its sweep's keys: they must not fail the next.
  beforeEach(() => void redis.cli('FLUSHALL'));
  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await Promise.all(executors.map((e) => e.close().catch(() => undefined)));
    await redis?.stop();
  });

  const noKeysLeft = (): Promise<void> =>
    // BullMQ's stalled-check marker expires by itself within one stall interval.
    waitFor(() => redis.keys().length === 0, 3 * LOCK_MS + 2000, `no keys, still: ${redis.keys().join(' ')}`);

  it.each([1, 2, 3])(
    'the CSV and curves equal the local pool’s with %i worker process(es), all of them connected; no keys left',
    async (n) => {
      while (workers.length < n) workers.push(await startWorker(redis.url, { lockMs: LOCK_MS }));
      const e = executor();
      await e.ready();
      const c = curves();
      const got = await collect(grid, e, { batchSize: 5, curveEvery: 20 }, [c]);
      const want = await localRun(grid, 20);
      expect(got.outcome.runs).toBe(grid.total);
      expect(untimed(got.csv)).toBe(want.csv);
      expect(c.text).toEqual(want.curves);
      await waitFor(async () => (await e.progress()).workers === n, 5000, `${n} workers connected`);
      await e.close();
      await noKeysLeft();
    },
  );

  it('early stopping through Redis: the same rows as the local pool (rungs ask for the same runs at fewer steps); no keys left', async () => {
    const halving = { ...grid, earlyStopping: { method: 'successive-halving', minSteps: 20, reduction: 3 } } as Plan;
    const rows = async (e: Executor): Promise<string> => {
      let csv = '';
      const out = await runEarlyStopping(halving, {
        executor: e,
        journal: { accept: () => undefined },
        consumers: [new RowWriter(halving, (b) => void (csv += Buffer.from(b).toString('utf8')))],
      });
      expect(out.interrupted).toBe(false);
      e.finished?.(halving);
      return untimed(headerLine(columnsOf(halving)) + csv);
    };
    const pool = createExecutor('piscina', { workers: 2 });
    const want = await rows(pool).finally(() => pool.close());
    expect(want).toContain(',pruned,');
    while (workers.length < 1) workers.push(await startWorker(redis.url, { lockMs: LOCK_MS }));
    const e = executor();
    await e.ready();
    expect(await rows(e)).toBe(want);
    await e.close();
    await noKeysLeft();
  });

  it('shows the runs in progress on the workers, their step advancing; nothing after', async () => {
    // Runs of a second or more: the workers send progress every half second.
    const long = parseConfig(
      JSON.stringify({
        name: 'redis-live',
        problem: { name: 'quadratic', dim: 100_000, condition: 10 },
        optimizers: ['sgd', 'adam'],
        // Runs of a few seconds: several progress reports (every half second) each.
        steps: 6000,
      }),
      'redis-live.json',
    );
    const e = executor();
    await e.ready();
    const seen: LiveRun[] = [];
    let done = false;
    const sweep = runSweep(long, { executor: e, consumers: [] }).finally(() => (done = true));
    while (!done) {
      seen.push(...(await e.progress()).runs);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await sweep).runs).toBe(long.total);
    expect(seen.length).toBeGreaterThan(0);
    for (const r of seen) {
      expect(r.runId).toBeGreaterThanOrEqual(0);
      expect(r.runId).toBeLessThan(long.total);
      expect(r.step).toBeGreaterThanOrEqual(0);
      expect(r.step).toBeLessThanOrEqual(long.steps);
      expect(Number.isFinite(r.loss)).toBe(true);
    }
    const steps = new Map<number, Set<number>>();
    for (const r of seen) steps.set(r.runId, (steps.get(r.runId) ?? new Set()).add(r.step));
    expect([...steps.values()].some((s) => s.size > 1)).toBe(true);
    expect((await e.progress()).runs).toEqual([]);
    e.finished?.(long);
    await e.close();
  });

  /** Stops the workers started so far, gracefully: each exits 0. */
  const stopAll = async (): Promise<void> => {
    for (const w of workers.splice(0)) {
      if (w.child.exitCode !== null || w.child.signalCode !== null) continue;
      w.child.kill('SIGTERM');
      expect((await w.exited).code).toBe(0);
    }
  };

  /** Listens for stalled jobs of `plan`'s queue. */
  const stalls = async (plan: Plan): Promise<{ ids: string[]; close: () => Promise<void> }> => {
    const events = new QueueEvents(fingerprint(plan), {
      connection: { port: redis.port, host: '127.0.0.1' },
      prefix: 'sweep',
    });
    const ids: string[] = [];
    events.on('stalled', ({ jobId }) => ids.push(jobId));
    await events.waitUntilReady();
    return { ids, close: () => events.close() };
  };

  /** The slow sweep on one worker, caught with a batch of `size` runs in progress. */
  const oneWorkerMidBatch = async (size: number) => {
    await stopAll();
    const a = await startWorker(redis.url, { lockMs: LOCK_MS });
    workers.push(a);
    const e = executor();
    await e.ready();
    const stalled = await stalls(slow);
    const sweep = collect(slow, e, { batchSize: size });
    await waitFor(async () => (await e.progress()).runs.length > 0, 20_000, 'a batch in progress on the worker');
    return { a, e, stalled, sweep };
  };

  it('a worker SIGKILLed mid-batch: another takes its batch after the stall interval; nothing lost or doubled', async () => {
    const { a, e, stalled, sweep } = await oneWorkerMidBatch(3);
    workers.push(await startWorker(redis.url, { lockMs: LOCK_MS }));
    a.child.kill('SIGKILL');
    expect((await a.exited).signal).toBe('SIGKILL');
    const got = await sweep;
    expect(got.outcome.runs).toBe(slow.total);
    expect(untimed(got.csv)).toBe((await localRun(slow, 0)).csv);
    expect(stalled.ids.length).toBeGreaterThan(0);
    await stalled.close();
    await e.close();
    await noKeysLeft();
  });

  it('a worker frozen mid-batch, its batch run elsewhere, then let go: the batch arrives twice, counts once', async () => {
    const { a, e, stalled, sweep } = await oneWorkerMidBatch(4);
    a.child.kill('SIGSTOP');
    workers.push(await startWorker(redis.url, { lockMs: LOCK_MS }));
    await waitFor(() => stalled.ids.length > 0, 20_000, 'the frozen batch to be found stalled');
    a.child.kill('SIGCONT');
    const got = await sweep;
    expect(got.outcome.runs).toBe(slow.total);
    const csv = untimed(got.csv);
    expect(csv).toBe((await localRun(slow, 0)).csv);
    const ids = csv
      .split('\n')
      .slice(1)
      .map((l) => l.split(',')[0]);
    expect(new Set(ids).size).toBe(slow.total);
    await stalled.close();
    await e.close();
    await stopAll(); // the thawed worker, too, finishes and exits 0
    await noKeysLeft();
  });

  it('a coordinator that dies leaves its results in Redis; one resumed at another run, with other batch sizes, reuses them with no worker running', async () => {
    await stopAll();
    workers.push(await startWorker(redis.url, { lockMs: LOCK_MS }));
    const dying = executor();
    await dying.ready();
    let given = 0;
    const fatal: Consumer = {
      accept(batch) {
        given = batch.first + batch.count;
        throw new Error('the coordinator dies');
      },
    };
    await expect(collect(grid, dying, { batchSize: 6, curveEvery: 20 }, [fatal])).rejects.toThrow('dies');
    expect(given).toBe(6);
    // Every batch was queued at once (11 of 6 runs): the worker finishes them unattended.
    const results = `sweep:${fingerprint(grid)}:results`;
    await waitFor(() => Number(redis.cli('HLEN', results)) >= 10, 20_000, 'the stored results');
    await dying.close();
    await stopAll();
    const e = executor();
    await e.ready();
    const c = curves();
    const got = await collect(grid, e, { batchSize: 4, from: 6, curveEvery: 20 }, [c]);
    expect(got.outcome.runs).toBe(grid.total - 6);
    const want = await localRun(grid, 20);
    const lines = want.csv.split('\n');
    expect(untimed(got.csv)).toBe([lines[0], ...lines.slice(7)].join('\n'));
    expect(c.text).toEqual(want.curves.slice(6));
    await e.close();
    await noKeysLeft();
  });

  it('a worker refuses, in one line, a sweep of another engine version, and leaves its batches alone', async () => {
    const fp = 'f'.repeat(64);
    redis.cli('HSET', 'sweep:sweeps', fp, JSON.stringify({ v: 1, engine: '0.0.0-other', name: 'alien', runs: 1 }));
    const queue = new Queue(fp, { connection: { port: redis.port, host: '127.0.0.1' }, prefix: 'sweep' });
    await queue.add('batch', { engine: '0.0.0-other', request: '{}', field: '0:1:0:1' }, { jobId: 'alien' });
    const w = await startWorker(redis.url, { lockMs: LOCK_MS });
    workers.push(w);
    await waitFor(() => /refusing sweep alien/.test(w.output()), 10_000, 'the refusal');
    const refusals = w
      .output()
      .split('\n')
      .filter((l) => l.includes('refusing'));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatch(/engine 0\.0\.0-other, protocol 1; this worker is engine \S+, protocol 1$/);
    await new Promise((r) => setTimeout(r, 1500)); // a poll or two later
    expect(await queue.getJobState('alien')).toBe('waiting');
    expect(
      w
        .output()
        .split('\n')
        .filter((l) => l.includes('refusing')),
    ).toHaveLength(1);
    await queue.obliterate({ force: true });
    await queue.close();
    redis.cli('DEL', 'sweep:sweeps');
    await stopAll();
    await noKeysLeft();
  });
});
