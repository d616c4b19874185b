/**
 * The executor seam: a batch of runs in, its results out. The piscina pool
 * (pool.ts) is one executor; a distributed queue can be another, carrying the same
 * `Batch` and `BatchResult` messages to the same worker code. Scheduling, ordering
 * and retries live in the coordinator (sweep.ts), above this seam.
 */
import type { Plan } from './grid.js';
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
  /** Resolves once the executor can run batches; rejects with `ExecutorError` if it
   * cannot (its workers fail to start). */
  ready(): Promise<void>;
  /** How many batches of `plan` to keep submitted at once. */
  capacity(plan: Plan): number;
  /** Runs one batch. Rejects when the batch's worker dies (exits, runs out of
   * memory); a run that throws is not a rejection but a result with status error. */
  execute(batch: Batch): Promise<BatchResult>;
  /** The runs in progress now. */
  live(): LiveRun[];
  close(): Promise<void>;
}

/** The executor itself is broken (not one batch): the sweep cannot go on. */
export class ExecutorError extends Error {
  override readonly name = 'ExecutorError';
}
