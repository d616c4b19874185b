/**
 * The executor seam: batch requests in, their records out. The piscina thread pool
 * (executors/piscina.ts) is one executor; a child process speaking JSON
 * (executors/child.ts) is another, and a distributed queue can be a third, carrying
 * the same `BatchRequest` and `ResultBatch` messages (protocol.ts) to the same worker
 * code (`runBatch`). Scheduling, ordering and retries live in the coordinator
 * (sweep.ts), above this seam; executors are made by name in executors/index.ts.
 */
import type { Plan } from './grid.js';
import type { BatchRequest, Progress } from './protocol.js';
import type { ResultBatch } from './results.js';

export interface Executor {
  /** Runs working at once. */
  readonly size: number;
  /** Resolves once the executor can run batches; rejects with `ExecutorError` if it
   * cannot (its workers fail to start). */
  ready(): Promise<void>;
  /** How many batches of `plan` to keep submitted at once. */
  capacity(plan: Plan): number;
  /** Runs one batch. Rejects when the batch's worker dies (exits, runs out of
   * memory); a run that throws is not a rejection but a record with status error. */
  execute(request: BatchRequest): Promise<ResultBatch>;
  /** Every run requested before `next` of `plan` has been passed to the consumers
   * (called in order): an executor that keeps results outside the process may let
   * them go. */
  passed?(plan: Plan, next: number): void;
  /** The sweep of `plan` is complete (every run written): what the executor keeps for
   * it elsewhere may go when it closes. */
  finished?(plan: Plan): void;
  /** The runs in progress and the workers connected, as lately known. */
  progress(): Promise<Progress>;
  close(): Promise<void>;
}

/** The executor itself is broken (not one batch): the sweep cannot go on. */
export class ExecutorError extends Error {
  override readonly name = 'ExecutorError';
}
