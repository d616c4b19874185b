/**
 * The problem seam: a differentiable loss over a flat parameter vector. A problem
 * computes its loss and writes its gradient into a buffer the caller owns (in a
 * worker, a view of shared memory), so the same loop serves two parameters or ten
 * million.
 */
import type { Arena } from '../arena.js';
import type { Precision } from '../kernels/index.js';
import type { Params } from '../optimizers/index.js';
import type { Rng } from '../rng.js';

/** A half-open index range [start, end) of the parameter vector. */
export type Span = readonly [start: number, end: number];

/** A problem instance for one seed. Consecutive runs with that seed reuse it:
 * `init` starts a run and resets any per-run state (a minibatch stream). W and g are
 * Float64Arrays, or Float32Arrays where the problem's `precision` is 'f32'. */
export interface Problem {
  readonly dim: number;
  /** The parameters L2 weight decay applies to (the book: weights, never biases). */
  readonly decayed: readonly Span[];
  /** Starts a run: writes the starting point into W and resets per-run state. */
  init(W: Params): void;
  /** The loss at W, with its gradient written into g. `step` counts the updates so
   * far (it selects the minibatch of stochastic problems). */
  lossAndGrad(W: Params, g: Params, step: number): number;
  /** The problem's own result columns at the end of a run, in `metrics` order. */
  finish(W: Params): number[];
}

export interface ProblemContext<D = unknown> {
  /** The run's seed; streams are drawn with `rng(seed, label)`. */
  readonly seed: number;
  readonly rng: (label: string) => Rng;
  /** What `ProblemDef.load` returned, as the coordinator loaded it (SharedArrayBuffers
   * inside are the coordinator's memory, not copies). */
  readonly data: D;
  /** Where the instance takes its scratch arrays (kernel-visible memory); it may take
   * up to `ProblemDef.scratchBytes` bytes. */
  readonly arena: Arena;
}

/** A problem family, configured by `options` (validated and defaulted by `resolve`). */
export interface ProblemDef<O extends object = object, D = unknown> {
  readonly name: string;
  readonly doc: string;
  /** JSON Schema of the options object (without `name`), for the config schema. */
  readonly optionsSchema: Record<string, unknown>;
  /** Fills defaults and checks what the schema cannot say; throws `OptionError`. */
  resolve(options: Record<string, unknown>): O;
  dim(options: O): number;
  /** Names of the extra CSV columns `finish` returns. */
  metrics(options: O): readonly string[];
  /** The result column that ranks runs in the summary, if not `final_loss` (lower
   * is better): e.g. a held-out accuracy (higher is better). */
  rank?(options: O): { readonly column: string; readonly higher: boolean };
  /** The precision of the parameters, the gradient and the optimizer state of a run:
   * 'f32' runs them in float32 (Float32Arrays, the float32 optimizer kernels);
   * default 'f64'. */
  precision?(options: O): Precision;
  /** Bytes of arena an instance takes for its scratch (see `arenaBytes`); 0 if absent. */
  scratchBytes?(options: O): number;
  /** Names of the leading parameters a loss curve traces (the trajectory of the
   * book's figures); none for large problems. */
  trajectory?(options: O): readonly string[];
  /** The minimiser, where it is known (the report marks it on the loss contour). */
  optimum?(options: O): readonly number[];
  /** Checks what depends on the seeds (a user's start point) once they are known;
   * throws like `resolve`. */
  check?(options: O, seeds: readonly number[]): void;
  /** Whether runs that differ only in their seed are identical (the start and
   * everything else ignore it): then several seeds repeat each run to no purpose. */
  ignoresSeed?(options: O, seeds: readonly number[]): boolean;
  /** The problem, for a message (default: its name). */
  describe?(options: O): string;
  /** The problem as a config's `problem` field (default: `{ name, ...options }`). */
  config?(options: O): Record<string, unknown>;
  /** Loads the problem's data once per sweep, in the coordinator. Its result must be
   * structured-cloneable; put bulk arrays in SharedArrayBuffers so that every worker
   * reads the same memory. Throws `UsageError` for missing data. */
  load?(options: O): Promise<D>;
  create(options: O, context: ProblemContext<D>): Problem;
}

/** A problem option that the schema admits but the problem rejects. */
export class OptionError extends Error {
  constructor(
    readonly field: string,
    readonly rule: string,
    readonly value: unknown,
  ) {
    super(`${field} must ${rule}, got ${JSON.stringify(value)}`);
  }
}

/** Loss curves trace the parameters of problems up to this many dimensions. */
export const TRACED_DIMS = 10;

/** Names of the traced coordinates of a `dim`-parameter problem: x0, x1, …; none
 * beyond TRACED_DIMS. */
export const coordinateNames = (dim: number): string[] =>
  dim <= TRACED_DIMS ? Array.from({ length: dim }, (_, i) => `x${i}`) : [];

/** Euclidean distance from W to a point given per coordinate. */
export function distance(W: Params, optimum: (i: number) => number): number {
  let s = 0;
  for (let i = 0; i < W.length; i++) {
    const d = W[i] - optimum(i);
    s += d * d;
  }
  return Math.sqrt(s);
}
