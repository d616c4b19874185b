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
import { ExecutorError, type Executor, type LiveRun } from './executor.js';
import type { Plan } from './grid.js';
import { ROOT } from './paths.js';
import { LIVE, type Batch, type BatchResult, type Lane, type Task } from './protocol.js';
import { runBytes } from './batch.js';
import { KERNEL_HEAP_BASE, createSharedMemory } from './kernels/index.js';

export const WORKER_FILE = join(ROOT, 'dist', 'workers', 'sweep-worker.js');

/** Tasks submitted per thread: a second one waits (in piscina's queue, not the
 * thread's: a thread that dies must take only its own task with it) so the thread
 * idles little between tasks, unless a run's memory is so large that a second one
 * would cost too much. */
const TASKS_PER_THREAD = 2;
const LARGE_ARENA_BYTES = 64 * 2 ** 20;
/** Default heap limit of a worker thread (V8 old generation), in MiB. */
export const DEFAULT_WORKER_MEMORY_MB = 2048;

export interface PoolOptions {
  /** Threads; default: the available cores. */
  workers?: number;
  /** Heap limit per worker thread, MiB: a run that exceeds it ends in `error`. */
  workerMemoryMb?: number;
  /** The worker entry; tests substitute one that injects faults. */
  workerFile?: string;
}

const usable = (lane: Lane): number => lane.memory.buffer.byteLength - KERNEL_HEAP_BASE;

export class PiscinaExecutor implements Executor {
  readonly size: number;
  private readonly pool: Piscina;
  private readonly lanes: Lane[] = [];
  private readonly busy = new Set<Lane>();
  /** Settles (rejects) when a worker thread cannot start: the pool is broken. */
  private readonly broken: Promise<never>;
  private failure: Error | undefined;

  constructor(options: PoolOptions = {}) {
    this.size = options.workers ?? availableParallelism();
    this.pool = new Piscina({
      filename: options.workerFile ?? WORKER_FILE,
      minThreads: this.size,
      maxThreads: this.size,
      // Threads live as long as the sweep: a sweep is one burst of work.
      idleTimeout: Infinity,
      resourceLimits: { maxOldGenerationSizeMb: options.workerMemoryMb ?? DEFAULT_WORKER_MEMORY_MB },
      // Piscina loads the worker file with require() first. On Node 20.19+ that is
      // require(esm), which aborts the whole process (V8 "IsGraphAsync" fatal error,
      // seen as exit 134) when a thread is torn down while still loading; without it
      // piscina falls back to import(), which fails cleanly.
      execArgv: [...process.execArgv, '--no-experimental-require-module'],
    });
    // A worker that cannot start is reported here. Tasks already submitted to piscina
    // would wait for a thread forever: `broken` ends them.
    let fail: (e: ExecutorError) => void = () => undefined;
    this.broken = new Promise<never>((_, reject) => (fail = reject));
    this.broken.catch(() => undefined);
    this.pool.on('error', (e: Error) => {
      this.failure ??= e;
      fail(new ExecutorError(`worker threads failed: ${e.message}`));
    });
  }

  async ready(): Promise<void> {
    try {
      await this.pool.run(null, { name: 'ping' });
    } catch (e) {
      throw new ExecutorError(`worker threads cannot start: ${(e as Error).message}`);
    }
  }

  capacity(plan: Plan): number {
    return runBytes(plan.problem) > LARGE_ARENA_BYTES ? this.size : this.size * TASKS_PER_THREAD;
  }

  async execute(batch: Batch): Promise<BatchResult> {
    this.throwIfBroken();
    const lane = this.takeLane(runBytes(batch.plan.problem));
    try {
      return await Promise.race([this.pool.run({ batch, lane } satisfies Task) as Promise<BatchResult>, this.broken]);
    } catch (e) {
      // A thread that could not start is the pool's failure, not the batch's.
      this.throwIfBroken();
      throw e;
    } finally {
      new Int32Array(lane.progress)[LIVE.RUN] = -1;
      this.busy.delete(lane);
    }
  }

  private throwIfBroken(): void {
    if (this.failure) throw new ExecutorError(`worker threads failed: ${this.failure.message}`);
  }

  private takeLane(bytes: number): Lane {
    let lane = this.lanes.find((l) => !this.busy.has(l) && usable(l) >= bytes);
    if (!lane) {
      const idle = this.lanes.findIndex((l) => !this.busy.has(l));
      if (idle >= 0) this.lanes.splice(idle, 1); // too small: let it go
      lane = { progress: new SharedArrayBuffer(LIVE.BYTES), memory: createSharedMemory(bytes) };
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
      if (runId >= 0) runs.push({ runId, step: ints[LIVE.STEP], loss: new Float64Array(lane.progress)[LIVE.LOSS] });
    }
    return runs;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
