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

export const adam: Optimizer = {
  name: 'adam',
  hyper: ['lr', 'beta1', 'beta2', 'eps'],
  state: ['m', 'v'],
  update(W, g, s, { lr, beta1, beta2, eps }) {
    const [m, v] = s.arrays;
    const t = ++s.count;
    const lrT = (lr * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
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
