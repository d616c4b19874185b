/**
 * The piscina executor: the only code that knows about threads and the layout of
 * the shared memory. Each task gets a lane, a pair of SharedArrayBuffers that it
 * keeps for the task's duration: `progress` (the live step and loss, read here
 * without messages) and `arena` (the parameters, gradient and optimizer state of the
 * run in progress, which therefore never cross threads).
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import type { Executor, LiveRun } from './executor.js';
import type { Plan } from './grid.js';
import { ROOT } from './paths.js';
import { PROBLEMS } from './problems/index.js';
import { LIVE, type Batch, type BatchResult, type Lane, type Task } from './protocol.js';
import { maxMemoryNeeded } from './run.js';

export const WORKER_FILE = join(ROOT, 'dist', 'workers', 'sweep-worker.js');

/** Tasks queued per thread: a second one waits so the thread never idles between
 * tasks, unless a run's arena is so large that a second copy would cost too much. */
const TASKS_PER_THREAD = 2;
const LARGE_ARENA_BYTES = 64 * 2 ** 20;
const FLOAT64_BYTES = 8;

export interface PoolOptions {
  /** Threads; default: the available cores. */
  workers?: number;
}

function arenaBytes(plan: Plan): number {
  const def = PROBLEMS[plan.problem.name];
  return maxMemoryNeeded(def.dim(plan.problem.options)) * FLOAT64_BYTES;
}

export class PiscinaExecutor implements Executor {
  readonly size: number;
  private readonly pool: Piscina;
  private readonly lanes: Lane[] = [];
  private readonly busy = new Set<Lane>();

  constructor(options: PoolOptions = {}) {
    this.size = options.workers ?? availableParallelism();
    this.pool = new Piscina({
      filename: WORKER_FILE,
      minThreads: this.size,
      maxThreads: this.size,
      // Threads live as long as the sweep: a sweep is one burst of work.
      idleTimeout: Infinity,
    });
  }

  async *run(batches: Iterable<Batch>, signal?: AbortSignal): AsyncIterable<BatchResult> {
    const source = batches[Symbol.iterator]();
    type Done = { result: BatchResult; lane: Lane; task: Promise<Done> };
    const running = new Set<Promise<Done>>();
    let limit = this.size * TASKS_PER_THREAD;

    const launch = (): void => {
      while (running.size < limit && !signal?.aborted) {
        const next = source.next();
        if (next.done) return;
        const bytes = arenaBytes(next.value.plan);
        if (bytes > LARGE_ARENA_BYTES) limit = this.size;
        const lane = this.takeLane(bytes);
        const task: Promise<Done> = this.pool
          .run({ batch: next.value, lane } satisfies Task)
          .then((result: BatchResult) => ({ result, lane, task }));
        running.add(task);
      }
    };

    try {
      launch();
      while (running.size > 0) {
        const { result, lane, task } = await Promise.race(running);
        running.delete(task);
        this.busy.delete(lane);
        launch();
        yield result;
      }
    } finally {
      // On an early exit, let the tasks in flight finish so their lanes are free.
      await Promise.allSettled(running);
      this.busy.clear();
    }
  }

  private takeLane(arenaBytes: number): Lane {
    let lane = this.lanes.find((l) => !this.busy.has(l) && l.arena.byteLength >= arenaBytes);
    if (!lane) {
      const idle = this.lanes.findIndex((l) => !this.busy.has(l));
      if (idle >= 0) this.lanes.splice(idle, 1); // too small: let it go
      lane = { progress: new SharedArrayBuffer(LIVE.BYTES), arena: new SharedArrayBuffer(arenaBytes) };
      new Int32Array(lane.progress)[LIVE.RUN] = -1;
      this.lanes.push(lane);
    }
    this.busy.add(lane);
    return lane;
  }

  live(): LiveRun[] {
    const runs: LiveRun[] = [];
    for (const lane of this.busy) {
      const ints = new Int32Array(lane.progress);
      const runId = Atomics.load(ints, LIVE.RUN);
      if (runId >= 0)
        runs.push({ runId, step: ints[LIVE.STEP], loss: new Float64Array(lane.progress)[LIVE.LOSS] });
    }
    return runs;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
