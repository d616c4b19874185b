/**
 * RMSprop.
 *
 *     h ← ρ·h + (1 − ρ)·g⊙g
 *     W ← W − η·g / (√h + ε)
 *
 * State: h, the exponential average of squared gradients (no bias correction,
 * as in the book; ε outside the root).
 */
import type { Optimizer } from './types.js';

export const rmsprop: Optimizer = {
  name: 'rmsprop',
  hyper: ['lr', 'rho', 'eps'],
  state: ['h'],
  update(W, g, s, { lr, rho, eps }) {
    const h = s.arrays[0];
    const oneMinusRho = 1 - rho;
    for (let i = 0; i < W.length; i++) {
      const gi = g[i];
      const hi = rho * h[i] + oneMinusRho * gi * gi;
      h[i] = hi;
      W[i] -= (lr * gi) / (Math.sqrt(hi) + eps);
    }
    s.count++;
  },
};
