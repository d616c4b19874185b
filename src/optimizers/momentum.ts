/**
 * Momentum (the book's formulation: v is a velocity, and carries −η·g).
 *
 *     v ← α·v − η·g
 *     W ← W + v
 *
 * State: v, the velocity. With α = 0 this is exactly sgd.
 */
import type { Optimizer } from './types.js';

export const momentum: Optimizer = {
  name: 'momentum',
  hyper: ['lr', 'momentum'],
  state: ['v'],
  update(W, g, s, { lr, momentum: alpha }) {
    const v = s.arrays[0];
    for (let i = 0; i < W.length; i++) {
      const vi = alpha * v[i] - lr * g[i];
      v[i] = vi;
      W[i] += vi;
    }
    s.count++;
  },
};
