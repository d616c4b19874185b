/**
 * Nesterov's accelerated gradient, in the book's reformulation (the gradient is
 * taken at W, not at the look-ahead point; the look-ahead is folded into W).
 *
 *     W ← W + α²·v − (1 + α)·η·g
 *     v ← α·v − η·g
 *
 * State: v, the velocity, updated after W from its old value.
 */
import type { Optimizer } from './types.js';

export const nesterov: Optimizer = {
  name: 'nesterov',
  hyper: ['lr', 'momentum'],
  state: ['v'],
  update(W, g, s, { lr, momentum: alpha }) {
    const v = s.arrays[0];
    const a2 = alpha * alpha;
    const c = (1 + alpha) * lr;
    for (let i = 0; i < W.length; i++) {
      const vi = v[i];
      const gi = g[i];
      W[i] += a2 * vi - c * gi;
      v[i] = alpha * vi - lr * gi;
    }
    s.count++;
  },
};
