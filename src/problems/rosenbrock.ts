/**
 * The n-dimensional Rosenbrock function (the chained form):
 *
 *     f(x) = Σᵢ₌₀ⁿ⁻² [ 100·(xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)² ],   minimum 0 at (1, …, 1)
 *
 * Standard start: xᵢ = −1.2 for even i, 1 for odd i.
 */
import { OptionError, coordinateNames, distance, type ProblemDef } from './types.js';

export interface RosenbrockOptions {
  dim: number;
}

export const rosenbrock: ProblemDef<RosenbrockOptions> = {
  name: 'rosenbrock',
  doc: 'chained n-dimensional Rosenbrock, from (−1.2, 1, −1.2, …)',
  optionsSchema: {
    dim: { type: 'integer', minimum: 2, description: 'number of dimensions; default 2' },
  },
  resolve(options) {
    const dim = (options.dim as number | undefined) ?? 2;
    if (!Number.isInteger(dim) || dim < 2) throw new OptionError('problem.dim', 'be an integer >= 2', dim);
    return { dim };
  },
  dim: ({ dim }) => dim,
  metrics: () => ['distance'],
  trajectory: ({ dim }) => coordinateNames(dim),
  optimum: ({ dim }) => new Array<number>(dim).fill(1),
  // The start is fixed, and nothing else is drawn.
  ignoresSeed: () => true,
  create({ dim }) {
    return {
      dim,
      decayed: [[0, dim]],
      init(W) {
        for (let i = 0; i < dim; i++) W[i] = i % 2 === 0 ? -1.2 : 1;
      },
      lossAndGrad(W, g) {
        let f = 0;
        g.fill(0);
        for (let i = 0; i < dim - 1; i++) {
          const xi = W[i];
          const r = W[i + 1] - xi * xi;
          const s = 1 - xi;
          f += 100 * r * r + s * s;
          g[i] += -400 * xi * r - 2 * s;
          g[i + 1] += 200 * r;
        }
        return f;
      },
      finish: (W) => [distance(W, () => 1)],
    };
  },
};
