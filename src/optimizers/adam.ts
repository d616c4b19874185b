/**
 * Adam, in the book's formulation: the bias correction is folded into the step size
 * (η_t) rather than applied to m and v, and ε is added to √v outside the root.
 *
 *     t   ← t + 1
 *     η_t = η·√(1 − β₂ᵗ) / (1 − β₁ᵗ)
 *     m   ← m + (1 − β₁)·(g − m)
 *     v   ← v + (1 − β₂)·(g⊙g − v)
 *     W   ← W − η_t·m / (√v + ε)
 *
 * State: m (first moment), v (second moment), t = `count`.
 */
import type { Optimizer } from './types.js';

/** Powers remembered per β, up to this t (beyond it, computed each time). */
const REMEMBERED_POWERS = 1 << 16;

/** β^t for t = 1, 2, …, remembered for the last β seen: every run of a sweep asks for
 * the same few powers, and a table lookup gives exactly the value `β ** t` gives.
 * Module state, deliberately: `update` stays pure in what it computes (the same bits
 * as `β ** t`), and the table measured about 20% less CPU per 30-step bowl run
 * (commit be729ea). One table per thread, of at most REMEMBERED_POWERS numbers. */
function powers(): (beta: number, t: number) => number {
  let base = NaN;
  let table: number[] = [];
  return (beta, t) => {
    if (beta !== base) {
      base = beta;
      table = [];
    }
    return t < REMEMBERED_POWERS ? (table[t] ??= beta ** t) : beta ** t;
  };
}
const pow1 = powers();
const pow2 = powers();

/** Adam's step size at update t: η_t = η·√(1 − β₂ᵗ)/(1 − β₁ᵗ). */
export function adamStepSize(lr: number, beta1: number, beta2: number, t: number): number {
  return (lr * Math.sqrt(1 - pow2(beta2, t))) / (1 - pow1(beta1, t));
}

export const adam: Optimizer = {
  name: 'adam',
  hyper: ['lr', 'beta1', 'beta2', 'eps'],
  state: ['m', 'v'],
  update(W, g, s, { lr, beta1, beta2, eps }) {
    const [m, v] = s.arrays;
    const t = ++s.count;
    const lrT = adamStepSize(lr, beta1, beta2, t);
    const a = 1 - beta1;
    const b = 1 - beta2;
    for (let i = 0; i < W.length; i++) {
      const gi = g[i];
      const mi = m[i] + a * (gi - m[i]);
      const vi = v[i] + b * (gi * gi - v[i]);
      m[i] = mi;
      v[i] = vi;
      W[i] -= (lrT * mi) / (Math.sqrt(vi) + eps);
    }
  },
};
