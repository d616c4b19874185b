/**
 * Stochastic gradient descent.
 *
 *     W ← W − η·g
 *
 * No state.
 */
import type { Optimizer } from './types.js';

export const sgd: Optimizer = {
  name: 'sgd',
  hyper: ['lr'],
  state: [],
  update(W, g, s, { lr }) {
    for (let i = 0; i < W.length; i++) W[i] -= lr * g[i];
    s.count++;
  },
};
