/**
 * The book's anisotropic bowl (experiment A):
 *
 *     f(x, y) = x²/20 + y²,   ∇f = (x/10, 2y),   minimum 0 at (0, 0)
 *
 * Start (−7, 2), as in the book's figure; `start` overrides it.
 */
import { OptionError, distance, type ProblemDef } from './types.js';

export interface BowlOptions {
  start: [number, number];
}

export const anisotropicBowl: ProblemDef<BowlOptions> = {
  name: 'anisotropic-bowl',
  doc: 'f(x, y) = x²/20 + y², from (−7, 2)',
  optionsSchema: {
    start: {
      type: 'array',
      items: { type: 'number' },
      minItems: 2,
      maxItems: 2,
      description: 'starting point [x, y]; default [-7, 2]',
    },
  },
  resolve(options) {
    const start = (options.start as [number, number] | undefined) ?? [-7, 2];
    start.forEach((v, i) => {
      if (!Number.isFinite(v)) throw new OptionError(`problem.start[${i}]`, 'be a finite number', v);
    });
    return { start: [start[0], start[1]] };
  },
  dim: () => 2,
  metrics: () => ['x', 'y', 'distance'],
  trajectory: () => ['x', 'y'],
  optimum: () => [0, 0],
  // The start is `start`, whatever the seed, and nothing else is drawn.
  ignoresSeed: () => true,
  create({ start }) {
    return {
      dim: 2,
      decayed: [[0, 2]],
      init(W) {
        W[0] = start[0];
        W[1] = start[1];
      },
      lossAndGrad(W, g) {
        const x = W[0];
        const y = W[1];
        g[0] = x / 10;
        g[1] = 2 * y;
        return (x * x) / 20 + y * y;
      },
      finish: (W) => [W[0], W[1], distance(W, () => 0)],
    };
  },
};
