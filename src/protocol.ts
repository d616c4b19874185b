/**
 * What crosses the executor boundary: a batch of runs in, its results out. Plain,
 * structured-cloneable data, so that a thread pool and a distributed queue can carry
 * the same messages.
 */
import type { Plan } from './grid.js';
import type { KernelMemory } from './kernels/index.js';

/** Runs `first … first + count − 1` of `plan`. */
export interface Batch {
  readonly plan: Plan;
  /** The problem's loaded data (`ProblemDef.load`), shared memory inside. */
  readonly data: unknown;
  readonly first: number;
  readonly count: number;
  /** Record each run's loss curve every this many steps; 0 for none. */
  readonly curveEvery: number;
}

/** Status codes in `BatchResult.status`, index into STATUSES. */
export const STATUS_CODE = { ok: 0, diverged: 1, error: 2 } as const;

/** The results of a batch, one entry per run, in run order (columns, not objects:
 * they cross threads as a few transferable arrays). */
export interface BatchResult {
  readonly first: number;
  readonly count: number;
  readonly status: Uint8Array;
  readonly finalLoss: Float64Array;
  readonly bestLoss: Float64Array;
  readonly divergedAt: Int32Array;
  readonly durationMs: Float64Array;
  /** Each run's value in the column that ranks runs (`Layout.rank`); NaN if none. */
  readonly score: Float64Array;
  /** The batch's CSV rows, formatted where the runs ran (formatting is most of the
   * cost of a tiny run, and so is spread over the workers). */
  readonly csv: string;
  /** The batch's loss-curve rows (`run_id, step, loss, <trajectory>`), run order;
   * empty unless the batch asked for curves. */
  readonly curves: string;
}

/** What a task carries besides its batch: where to run it (the executor's own). */
export interface Lane {
  /** Live progress, read by the coordinator without messages; see LIVE. */
  readonly progress: SharedArrayBuffer;
  /** The run's memory: parameters, gradient, optimizer state and the problem's
   * scratch (a shared WebAssembly.Memory, so the SIMD kernels work on it in place). */
  readonly memory: KernelMemory;
}

/** Layout of `Lane.progress`: Int32 slots, then a Float64 slot. */
export const LIVE = {
  /** Int32: id of the run in progress, −1 when idle. */
  RUN: 0,
  /** Int32: updates done by that run. */
  STEP: 1,
  /** Float64 index (byte offset 8): the loss at that step. */
  LOSS: 1,
  BYTES: 16,
} as const;

export interface Task {
  readonly batch: Batch;
  readonly lane: Lane;
}
