/**
 * `npm run bench -- redis`: sweeps through BullMQ on a real redis-server on loopback
 * (scripts/redis-server.ts; Debian's redis-server package), side by side with the
 * local pool in one run:
 * - configs/mnist-grid.json (48 runs) through Redis with 2 worker processes of 1
 *   thread, against the local pool of 2 threads (goal: at most 5% slower);
 * - tiny runs (30-step bowl) through Redis, runs/s at the coordinator's batch size
 *   and at larger ones (goal ≥ 100,000 runs/s);
 * - a simulated fleet: 8 worker processes, one SIGKILLed (and another started) every
 *   few seconds, the sweep completing with the local pool's CSV.
 * Workers and pools are started before the clock starts; the wall time is runSweep's,
 * CSV written, data loading included.
 */
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config/load.js';
import { RowWriter, columnsOf, headerLine } from '../src/csv.js';
import type { Executor } from '../src/executor.js';
import { createExecutor } from '../src/executors/index.js';
import type { Plan } from '../src/grid.js';
import { ROOT } from '../src/paths.js';
import { batchSize, runSweep } from '../src/sweep.js';
import {
  REDIS_MISSING_LINE,
  REDIS_SERVER,
  startRedis,
  startWorker,
  untimed,
  type WorkerProcess,
} from '../scripts/redis-server.js';

type Say = (line: string) => void;

const MNIST_REPEATS = 3;
const BOWL_REPEATS = 2;
/** The fleet: worker processes, how often one is killed, their lock duration. */
const FLEET = 8;
const KILL_EVERY_MS = 3000;
const FLEET_LOCK_MS = 2000;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The CSV file's rows, timing column dropped. */
const untimedFile = (path: string): string => untimed(readFileSync(path, 'utf8'));

/** Seconds of one sweep of `plan` on `executor`, CSV written to `path`. */
async function timed(plan: Plan, executor: Executor, path: string, size?: number): Promise<number> {
  const file = await open(path, 'w');
  await file.write(headerLine(columnsOf(plan)));
  const started = performance.now();
  const summary = await runSweep(plan, {
    executor,
    batchSize: size,
    consumers: [new RowWriter(plan, async (bytes) => void (await file.write(bytes)))],
  });
  const seconds = (performance.now() - started) / 1000;
  await file.close();
  if (summary.runs !== plan.total) throw new Error(`sweep incomplete: ${summary.runs} of ${plan.total}`);
  return seconds;
}

export async function redisBench(say: Say, dir: string): Promise<void> {
  if (!REDIS_SERVER) {
    say(`\n### Redis\n\n${REDIS_MISSING_LINE}`);
    return;
  }
  const redis = await startRedis();
  const workers: WorkerProcess[] = [];
  const stopWorkers = async (): Promise<void> => {
    for (const w of workers.splice(0)) {
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
      await w.exited;
    }
  };
  try {
    // 1. mnist-grid: 2 processes × 1 thread through Redis against 2 local threads.
    const mnist = parseConfig(readFileSync(join(ROOT, 'configs', 'mnist-grid.json'), 'utf8'), 'mnist-grid.json');
    const pool = createExecutor('piscina', { workers: 2 });
    const remote = createExecutor('redis', { url: redis.url, workers: 2 });
    for (let i = 0; i < 2; i++) workers.push(await startWorker(redis.url, { workers: 1 }));
    await Promise.all([pool.ready(), remote.ready()]);
    const load0 = loadavg()[0];
    const times = { local: [] as number[], redis: [] as number[] };
    for (let r = 0; r < MNIST_REPEATS; r++) {
      times.local.push(await timed(mnist, pool, join(dir, 'mnist-local.csv')));
      times.redis.push(await timed(mnist, remote, join(dir, 'mnist-redis.csv')));
    }
    const same = untimedFile(join(dir, 'mnist-local.csv')) === untimedFile(join(dir, 'mnist-redis.csv'));
    await pool.close();
    const [l, rd] = [median(times.local), median(times.redis)];
    say(`\n### Redis: configs/mnist-grid.json (48 runs), wall time\n`);
    say('| | wall time, s (median) | (best) | vs local |');
    say('|---|---:|---:|---:|');
    say(`| local pool, 2 threads | ${l.toFixed(2)} | ${Math.min(...times.local).toFixed(2)} | 1.00 |`);
    say(
      `| Redis, 2 worker processes × 1 thread | ${rd.toFixed(2)} | ${Math.min(...times.redis).toFixed(2)} | ${(rd / l).toFixed(3)} |`,
    );
    say(
      `\nThrough Redis / local: **${Math.abs(((rd - l) / l) * 100).toFixed(1)}% ${rd >= l ? 'slower' : 'faster'}** (median of ${MNIST_REPEATS} interleaved; goal ≤ 5% slower). Same rows (duration_ms aside): ${same ? 'yes' : 'NO'}. 1-minute load average ${load0.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after.`,
    );

    // 2. Tiny runs: the bench's 30-step bowl grid through Redis, at several batch sizes.
    const bowl = parseConfig(
      JSON.stringify({
        name: 'bench-bowl-redis',
        problem: { name: 'anisotropic-bowl' },
        optimizers: ['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'],
        lr: Array.from({ length: 100 }, (_, i) => Number((1e-3 * 1500 ** (i / 99)).toPrecision(6))),
        momentum: [0.5, 0.8, 0.9, 0.95, 0.99],
        steps: 30,
        seeds: Array.from({ length: 24 }, (_, i) => i),
      }),
      'bench',
    );
    const local2 = createExecutor('piscina', { workers: 2 });
    await local2.ready();
    const sizes = [batchSize(bowl, remote.size), 4096, 16384];
    const rates: number[][] = sizes.map(() => []);
    const localRates: number[] = [];
    for (let r = 0; r < BOWL_REPEATS; r++) {
      localRates.push(bowl.total / (await timed(bowl, local2, join(dir, 'bowl-local.csv'))));
      for (let i = 0; i < sizes.length; i++)
        rates[i].push(bowl.total / (await timed(bowl, remote, join(dir, `bowl-redis-${i}.csv`), sizes[i])));
    }
    const bowlSame = sizes.every(
      (_, i) => untimedFile(join(dir, `bowl-redis-${i}.csv`)) === untimedFile(join(dir, 'bowl-local.csv')),
    );
    await local2.close();
    await remote.close();
    await stopWorkers();
    say(`\n### Redis: ${bowl.total.toLocaleString('en')} tiny runs (30-step bowl), CSV written\n`);
    say('| | runs per batch | runs/s (median) | batches/s |');
    say('|---|---:|---:|---:|');
    const lr = median(localRates);
    say(`| local pool, 2 threads | ${batchSize(bowl, 2)} | ${Math.round(lr).toLocaleString('en')} | |`);
    sizes.forEach((s, i) => {
      const m = median(rates[i]);
      say(
        `| Redis, 2 processes × 1 thread${i === 0 ? ' (the coordinator’s batch size)' : ''} | ${s} | ${Math.round(m).toLocaleString('en')} | ${Math.round(m / s)} |`,
      );
    });
    say(
      `\nMedians of ${BOWL_REPEATS} interleaved sweeps; goal ≥ 100,000 runs/s. Same rows as the local pool at every batch size: ${bowlSame ? 'yes' : 'NO'}. 1-minute load average ${loadavg()[0].toFixed(2)}.`,
    );

    // 3. The fleet: 8 processes, one killed and one started every few seconds.
    const fleetPlan = parseConfig(
      JSON.stringify({
        name: 'bench-fleet',
        problem: { name: 'quadratic', dim: 50_000, condition: 10 },
        optimizers: ['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'],
        lr: [0.001, 0.005, 0.01, 0.02, 0.05],
        momentum: [0.5, 0.9],
        seeds: [0, 1, 2, 3],
        steps: 200,
      }),
      'bench',
    );
    const fleetLocal = createExecutor('piscina', { workers: 2 });
    await fleetLocal.ready();
    const localSeconds = await timed(fleetPlan, fleetLocal, join(dir, 'fleet-local.csv'), 2);
    await fleetLocal.close();
    for (let i = 0; i < FLEET; i++) workers.push(await startWorker(redis.url, { workers: 1, lockMs: FLEET_LOCK_MS }));
    const fleet = createExecutor('redis', { url: redis.url, workers: FLEET });
    await fleet.ready();
    let kills = 0;
    let sweeping = true;
    const killer = (async () => {
      while (sweeping) {
        await new Promise((r) => setTimeout(r, KILL_EVERY_MS));
        if (!sweeping) break;
        const victim = workers.shift()!;
        victim.child.kill('SIGKILL');
        await victim.exited;
        kills++;
        workers.push(await startWorker(redis.url, { workers: 1, lockMs: FLEET_LOCK_MS }));
      }
    })();
    const fleetSeconds = await timed(fleetPlan, fleet, join(dir, 'fleet-redis.csv'), 2).finally(
      () => (sweeping = false),
    );
    await killer;
    await fleet.close();
    await stopWorkers();
    const fleetRows = untimedFile(join(dir, 'fleet-redis.csv'));
    const ids = fleetRows
      .split('\n')
      .slice(1)
      .map((row) => row.split(',')[0]);
    const fleetSame = fleetRows === untimedFile(join(dir, 'fleet-local.csv'));
    say(`\n### Redis: a fleet of ${FLEET} worker processes, one SIGKILLed every ${KILL_EVERY_MS / 1000} s\n`);
    say(
      `${fleetPlan.total} runs (quadratic, 50,000 parameters, 200 steps; 2 runs a batch), lock ${FLEET_LOCK_MS / 1000} s: ` +
        `${kills} worker${kills === 1 ? '' : 's'} killed (each replaced), sweep done in ${fleetSeconds.toFixed(1)} s (local pool, 2 threads: ${localSeconds.toFixed(1)} s). ` +
        `Rows: ${ids.length}, distinct run ids: ${new Set(ids).size}; the same CSV as the local pool (duration_ms aside): **${fleetSame ? 'yes' : 'NO'}**. ` +
        `Keys left in Redis: ${redis.keys().length} (BullMQ's stalled-check marker expires within a lock duration).`,
    );
  } finally {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await redis.stop();
  }
}
