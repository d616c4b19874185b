/**
 * The executor seam: batches of runs in, their results streamed out. The piscina
 * pool (pool.ts) is one executor; a distributed queue can be another, carrying the
 * same `Batch` and `BatchResult` messages to the same worker code.
 */
import type { Batch, BatchResult } from './protocol.js';

/** A run in progress, as seen from the coordinator. */
export interface LiveRun {
  readonly runId: number;
  readonly step: number;
  readonly loss: number;
}

export interface Executor {
  /** Runs working at once. */
  readonly size: number;
  /** Runs every batch; yields each result as its batch finishes, in any order.
   * Stops taking new batches once `signal` aborts. */
  run(batches: Iterable<Batch>, signal?: AbortSignal): AsyncIterable<BatchResult>;
  /** The runs in progress now. */
  live(): LiveRun[];
  close(): Promise<void>;
}
