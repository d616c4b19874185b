/**
 * What the piscina executor and its worker threads share, and no one else: the
 * task message and the lane of shared memory it runs in.
 */
import type { KernelMemory } from '../kernels/index.js';
import type { BatchRequest } from '../protocol.js';
import type { ResultBatch } from '../results.js';

/** Where a task runs: the executor's own memory, lent for the task's duration. */
export interface Lane {
  /** Live progress, read by the coordinator without messages; see LIVE. */
  readonly progress: SharedArrayBuffer;
  /** The run's memory: parameters, gradient, optimizer state and the problem's
   * scratch (a shared WebAssembly.Memory, so the SIMD kernels work on it in place). */
  readonly memory: KernelMemory;
}

/** Layout of `Lane.progress`: two Int32 slots, then a Float64 slot. */
export const LIVE = {
  /** Int32 index: id of the run in progress, −1 when idle. */
  RUN_I32: 0,
  /** Int32 index: updates done by that run. */
  STEP_I32: 1,
  /** Float64 index (byte offset 8): the loss at that step. */
  LOSS_F64: 1,
  BYTES: 16,
} as const;

/** The message a worker thread gets: the request, the problem's resolved data
 * (SharedArrayBuffers inside: shared, not copied) and the lane. */
export interface Task {
  readonly request: BatchRequest;
  readonly data: unknown;
  readonly lane: Lane;
}

/** What a task answers: the batch's records, or why the thread could not load the
 * problem's code (`unloadable`), which ends the sweep. */
export type TaskReply = ResultBatch | { readonly unloadable: string };
