/**
 * The optimizer seam: a pure update rule over typed arrays, with its state named
 * and held by the caller (in the worker, inside a SharedArrayBuffer next to the
 * parameters).
 */

/** Every hyperparameter an optimizer can read. One record shape for all optimizers,
 * so the update call sites stay monomorphic; each optimizer lists the fields it uses. */
export interface Hyper {
  /** η, the learning rate. */
  lr: number;
  /** α, the momentum coefficient (momentum, nesterov). */
  momentum: number;
  /** ρ, the decay of the squared-gradient average (rmsprop). */
  rho: number;
  /** β₁, β₂: decay of Adam's first and second moment averages. */
  beta1: number;
  beta2: number;
  /** ε, added to √h (or √v) in the denominator, never inside the root. */
  eps: number;
}

export type HyperName = keyof Hyper;

/** A parameter vector, its gradient, or an optimizer state array: float64 (the
 * default, the book's precision) or float32 (a problem computing in float32). The
 * three of a run are of one precision. */
export type Params = Float64Array | Float32Array;

/** Optimizer state: named arrays, each as long as the parameters and of their
 * precision, all zero at the start, plus `count`, the number of updates done so far. */
export interface OptState {
  readonly arrays: Params[];
  count: number;
}

export interface Optimizer {
  readonly name: string;
  /** The hyperparameters this optimizer reads; a sweep axis applies only to these. */
  readonly hyper: readonly HyperName[];
  /** Names of the state arrays, in the order of `OptState.arrays` (`v`, `h`, `m`). */
  readonly state: readonly string[];
  /** One step, in place: W ← update(W, g, state). Increments `s.count`. The loop
   * computes in float64: it is the float64 reference; float32 runs take the float32
   * kernel (src/kernels/index.ts), which rounds every operation to float32. */
  update(W: Params, g: Params, s: OptState, h: Hyper): void;
}
