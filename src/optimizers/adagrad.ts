/**
 * AdaGrad.
 *
 *     h ← h + g⊙g
 *     W ← W − η·g / (√h + ε)
 *
 * State: h, the running sum of squared gradients over the whole run. ε sits outside
 * the root, inside the division (the study notes' `+ 1e-7` outside the division, and
 * their re-zeroing of h each step, are transcription slips; see BOOK_CH6.md).
 */
import type { Optimizer } from './types.js';

export const adagrad: Optimizer = {
  name: 'adagrad',
  hyper: ['lr', 'eps'],
  state: ['h'],
  update(W, g, s, { lr, eps }) {
    const h = s.arrays[0];
    for (let i = 0; i < W.length; i++) {
      const gi = g[i];
      const hi = h[i] + gi * gi;
      h[i] = hi;
      W[i] -= (lr * gi) / (Math.sqrt(hi) + eps);
    }
    s.count++;
  },
};
