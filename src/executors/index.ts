/**
 * Executors by name: the one place that makes one. The CLI, the library and the
 * tests ask for an executor here and see only the `Executor` interface.
 */
import type { Executor } from '../executor.js';
import { RedisExecutor } from './bullmq.js';
import { ChildProcessExecutor } from './child.js';
import { PiscinaExecutor } from './piscina.js';

export interface ExecutorOptions {
  /** Workers (threads or processes); default: the available cores. */
  workers?: number;
  /** Heap limit of each worker, MiB. */
  workerMemoryMb?: number;
  /** piscina only: the worker entry (tests substitute one that injects faults). */
  workerFile?: string;
  /** redis only: the server, `redis://[:password@]host:port[/db]` or `rediss://…`. */
  url?: string;
  /** redis only: how long a lost server is retried before the sweep stops, ms. */
  lostMs?: number;
}

export const EXECUTORS = {
  /** Worker threads on shared memory (the default). */
  piscina: (o: ExecutorOptions): Executor => new PiscinaExecutor(o),
  /** Child processes speaking JSON: nothing shared, as a remote worker would be. */
  child: (o: ExecutorOptions): Executor => new ChildProcessExecutor(o),
  /** Worker processes on any machine, through a BullMQ queue on Redis (`npm run worker`);
   * `workers` is the threads expected across them, which sizes the batches. */
  redis: (o: ExecutorOptions): Executor => {
    if (!o.url) throw new RangeError('the redis executor needs a url');
    return new RedisExecutor({ url: o.url, workers: o.workers, lostMs: o.lostMs });
  },
} as const;

export type ExecutorName = keyof typeof EXECUTORS;
export const EXECUTOR_NAMES = Object.keys(EXECUTORS) as ExecutorName[];

export function createExecutor(name: ExecutorName, options: ExecutorOptions = {}): Executor {
  const make = EXECUTORS[name] as ((o: ExecutorOptions) => Executor) | undefined;
  if (!make) throw new RangeError(`no executor named ${String(name)}; there are ${EXECUTOR_NAMES.join(', ')}`);
  return make(options);
}

export { DEFAULT_WORKER_MEMORY_MB, WORKER_FILE } from './piscina.js';
