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

/** Optimizer state: named arrays, each as long as the parameters, all zero at the
 * start, plus `count`, the number of updates done so far. */
export interface OptState {
  readonly arrays: Float64Array[];
  count: number;
}

export interface Optimizer {
  readonly name: string;
  /** The hyperparameters this optimizer reads; a sweep axis applies only to these. */
  readonly hyper: readonly HyperName[];
  /** Names of the state arrays, in the order of `OptState.arrays` (`v`, `h`, `m`). */
  readonly state: readonly string[];
  /** One step, in place: W ← update(W, g, state). Increments `s.count`. */
  update(W: Float64Array, g: Float64Array, s: OptState, h: Hyper): void;
}
