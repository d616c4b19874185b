/**
 * An ill-conditioned quadratic in n dimensions, for large parameter vectors:
 *
 *     f(x) = ½ Σᵢ cᵢ·xᵢ²,   cᵢ = κ^(i/(n−1)),   ∇f = c⊙x,   minimum 0 at 0
 *
 * The curvatures run from 1 to κ (the condition number). The start is uniform in
 * [−1, 1]ⁿ, drawn from the run's seed.
 */
import { OptionError, distance, type ProblemDef } from './types.js';

export interface QuadraticOptions {
  dim: number;
  condition: number;
}

/** cᵢ = κ^(i/(n−1)), computed once per options and shared by the runs of a thread.
 * Module state, deliberately: at a million parameters the curvatures cost as much as
 * a few updates, and every run of a batch asks for the same ones; only the last
 * options' array is kept (one problem per sweep), so it never grows. */
const cache = new Map<string, Float64Array>();
function curvatures(dim: number, condition: number): Float64Array {
  const key = `${dim}:${condition}`;
  let c = cache.get(key);
  if (!c) {
    c = new Float64Array(dim);
    const logK = Math.log(condition);
    for (let i = 0; i < dim; i++) c[i] = dim === 1 ? 1 : Math.exp((logK * i) / (dim - 1));
    cache.clear();
    cache.set(key, c);
  }
  return c;
}

export const quadratic: ProblemDef<QuadraticOptions> = {
  name: 'quadratic',
  doc: '½ Σ cᵢxᵢ² with curvatures log-spaced from 1 to κ, random start from the seed',
  optionsSchema: {
    dim: { type: 'integer', minimum: 1, description: 'number of parameters; default 1000' },
    condition: {
      type: 'number',
      minimum: 1,
      description: 'condition number κ, the ratio of the largest to the smallest curvature; default 100',
    },
  },
  resolve(options) {
    const dim = (options.dim as number | undefined) ?? 1000;
    const condition = (options.condition as number | undefined) ?? 100;
    if (!Number.isInteger(dim) || dim < 1) throw new OptionError('problem.dim', 'be an integer >= 1', dim);
    if (!Number.isFinite(condition) || condition < 1)
      throw new OptionError('problem.condition', 'be a finite number >= 1', condition);
    return { dim, condition };
  },
  dim: ({ dim }) => dim,
  metrics: () => ['distance'],
  optimum: ({ dim }) => new Array<number>(dim).fill(0),
  create({ dim, condition }, { rng }) {
    const c = curvatures(dim, condition);
    return {
      dim,
      decayed: [[0, dim]],
      init(W) {
        const r = rng('init');
        for (let i = 0; i < dim; i++) W[i] = 2 * r.next() - 1;
      },
      lossAndGrad(W, g) {
        let f = 0;
        for (let i = 0; i < dim; i++) {
          const gi = c[i] * W[i];
          g[i] = gi;
          f += gi * W[i];
        }
        return 0.5 * f;
      },
      finish: (W) => [distance(W, () => 0)],
    };
  },
};
