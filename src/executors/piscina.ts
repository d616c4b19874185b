/**
 * The piscina executor: the only code that knows about threads and shared memory.
 * It resolves a problem's data once, in this thread, into SharedArrayBuffers that
 * every worker thread reads. Each task gets a lane that it keeps for the task's
 * duration: `progress` (the live step and loss, read here without messages) and
 * `memory` (the parameters, gradient and optimizer state of the run in progress,
 * which therefore never cross threads). Lanes, their layout and the task message
 * (piscina-lane.ts) are private to this executor and its worker
 * (workers/sweep-worker.ts).
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { runBytes } from '../batch.js';
import { ExecutorError, type Executor } from '../executor.js';
import type { Plan } from '../grid.js';
import { KERNEL_HEAP_BASE, createSharedMemory } from '../kernels/index.js';
import { ROOT } from '../paths.js';
import { NO_TRAP_HANDLER } from '../relaunch.js';
import { resolveData, type BatchRequest, type LiveRun, type Progress } from '../protocol.js';
import type { ResultBatch } from '../results.js';
import { LIVE, type Lane, type Task, type TaskReply } from './piscina-lane.js';

export const WORKER_FILE = join(ROOT, 'dist', 'workers', 'sweep-worker.js');

/** Tasks submitted per thread: a second one waits (in piscina's queue, not the
 * thread's: a thread that dies must take only its own task with it) so the thread
 * idles little between tasks, unless a run's memory is so large that a second one
 * would cost too much. */
const TASKS_PER_THREAD = 2;
const LARGE_ARENA_BYTES = 64 * 2 ** 20;
/** Default heap limit of a worker thread (V8 old generation), in MiB. */
export const DEFAULT_WORKER_MEMORY_MB = 2048;
/** Node flags that a worker thread's execArgv rejects (ERR_WORKER_INVALID_EXEC_ARGV). */
const HEAP_FLAG = /^--max-(old|semi)-space-size(=|$)/;

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
  /** Each problem's data, loaded once (keyed by its descriptor). */
  private readonly data = new Map<string, Promise<unknown>>();
  /** The rejections of the tasks in flight: a worker thread that cannot start breaks
   * the pool, and tasks already submitted to piscina would wait for a thread forever.
   * (Not a race against one never-settling promise: every race would leave it a
   * reaction holding its result, a leak of every batch.) */
  private readonly inFlight = new Set<(e: Error) => void>();
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
      // Heap sizes are per process: a worker thread refuses them (its own limit is
      // resourceLimits), so `node --max-old-space-size=… cli.js` must not pass them on;
      // nor the trap handler's switch (process-wide, see relaunch.ts).
      execArgv: [
        ...process.execArgv.filter((a) => !HEAP_FLAG.test(a) && a !== NO_TRAP_HANDLER),
        '--no-experimental-require-module',
      ],
    });
    // A worker that cannot start is reported here: it ends the tasks in flight.
    this.pool.on('error', (e: Error) => {
      this.failure ??= e;
      for (const reject of this.inFlight) reject(new ExecutorError(`worker threads failed: ${e.message}`));
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

  private dataFor(problem: Plan['problem']): Promise<unknown> {
    const key = JSON.stringify(problem);
    let data = this.data.get(key);
    if (!data) this.data.set(key, (data = resolveData(problem)));
    return data;
  }

  async execute(request: BatchRequest): Promise<ResultBatch> {
    this.throwIfBroken();
    const data = await this.dataFor(request.plan.problem);
    const lane = this.takeLane(runBytes(request.plan.problem));
    try {
      const task: Task = { request, data, lane };
      const reply = await new Promise<TaskReply>((resolve, reject) => {
        this.inFlight.add(reject);
        (this.pool.run(task) as Promise<TaskReply>).then(resolve, reject).finally(() => this.inFlight.delete(reject));
      });
      if ('unloadable' in reply) throw new ExecutorError(reply.unloadable);
      return reply;
    } catch (e) {
      // A thread that could not start is the pool's failure, not the batch's.
      this.throwIfBroken();
      throw e;
    } finally {
      new Int32Array(lane.progress)[LIVE.RUN_I32] = -1;
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
      new Int32Array(lane.progress)[LIVE.RUN_I32] = -1;
      this.lanes.push(lane);
    }
    this.busy.add(lane);
    return lane;
  }

  progress(): Promise<Progress> {
    const runs: LiveRun[] = [];
    for (const lane of this.busy) {
      const ints = new Int32Array(lane.progress);
      const runId = Atomics.load(ints, LIVE.RUN_I32);
      if (runId >= 0)
        runs.push({ runId, step: ints[LIVE.STEP_I32], loss: new Float64Array(lane.progress)[LIVE.LOSS_F64] });
    }
    return Promise.resolve({ runs, workers: this.pool.threads.length });
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
