/**
 * Gradients: every problem's gradient against central differences of its own loss,
 * and L2 weight decay as the run loop applies it (½·λ·ΣW² on the loss, λ·W on the
 * gradient, over `problem.decayed` only).
 *
 * Problems that load data (`def.load`, e.g. mnist-mlp) have their gradient checks in
 * their own test file and are skipped here.
 */
import { describe, expect, it } from 'vitest';
import { defaultHyper } from '../src/optimizers/index.js';
import { PROBLEMS, PROBLEM_NAMES, type Problem } from '../src/problems/index.js';
import { rng } from '../src/rng.js';
import { makeProblem, runHere, spec } from './helpers.js';

const ANALYTIC = PROBLEM_NAMES.filter((name) => !PROBLEMS[name].load && !name.startsWith('mnist'));

/** Option sets per problem; a problem not listed here is checked with its defaults. */
const OPTION_SETS: Record<string, Record<string, unknown>[]> = {
  'anisotropic-bowl': [{}, { start: [3, -1.5] }],
  rosenbrock: [{ dim: 2 }, { dim: 5 }, { dim: 8 }],
  quadratic: [{ dim: 1 }, { dim: 50, condition: 100 }, { dim: 20, condition: 1e4 }],
};

/** Known minimisers (the loss there is 0 and so is the gradient). */
const OPTIMUM: Record<string, (i: number) => number> = {
  'anisotropic-bowl': () => 0,
  rosenbrock: () => 1,
  quadratic: () => 0,
};

const CASES = ANALYTIC.flatMap((problem) =>
  (OPTION_SETS[problem] ?? [{}]).map((options) => ({
    problem,
    options,
    label: `${problem} ${JSON.stringify(options)}`,
  })),
);

/** The problem's start, then random points around the origin, from a fixed seed. */
function points(problem: Problem, count: number, seed: number): Float64Array[] {
  const start = new Float64Array(problem.dim);
  problem.init(start);
  const r = rng(seed, 'gradient-points');
  const random = Array.from({ length: count }, () =>
    Float64Array.from({ length: problem.dim }, () => 4 * r.next() - 2),
  );
  return [start, ...random];
}

/** Central differences of `loss` at W, each coordinate stepped by h·max(1, |Wᵢ|). */
function centralDifferences(loss: (W: Float64Array) => number, W: Float64Array, h = 1e-5): Float64Array {
  const fd = new Float64Array(W.length);
  const x = W.slice();
  for (let i = 0; i < W.length; i++) {
    const step = h * Math.max(1, Math.abs(W[i]));
    x[i] = W[i] + step;
    const up = loss(x);
    x[i] = W[i] - step;
    const down = loss(x);
    x[i] = W[i];
    fd[i] = (up - down) / (x[i] + step - (x[i] - step));
  }
  return fd;
}

const norm = (a: Float64Array): number => Math.sqrt(a.reduce((s, x) => s + x * x, 0));

function relativeError(a: Float64Array, b: Float64Array): number {
  const diff = a.map((x, i) => x - b[i]);
  return norm(diff) / Math.max(norm(a), norm(b), Number.MIN_VALUE);
}

describe('problem gradients match central differences', () => {
  it('checks at least the three analytic problems', () => {
    expect(ANALYTIC).toEqual(expect.arrayContaining(['anisotropic-bowl', 'rosenbrock', 'quadratic']));
  });

  it.each(CASES)(
    '$label: at the start and 4 random points, relative error < 1e-6',
    async ({ problem: name, options }) => {
      const problem = await makeProblem(name, options);
      const scratch = new Float64Array(problem.dim);
      const loss = (W: Float64Array): number => problem.lossAndGrad(W, scratch, 0);
      for (const W of points(problem, 4, problem.dim)) {
        const g = new Float64Array(problem.dim);
        const before = W.slice();
        const f = problem.lossAndGrad(W, g, 0);
        expect(Number.isFinite(f)).toBe(true);
        expect([...W]).toEqual([...before]); // the loss reads W, never writes it
        const fd = centralDifferences(loss, W);
        expect(relativeError(g, fd)).toBeLessThan(1e-6);
        for (let i = 0; i < g.length; i++)
          expect(Math.abs(g[i] - fd[i]), `coordinate ${i}`).toBeLessThan(1e-6 * Math.max(1, Math.abs(fd[i])));
      }
    },
  );

  it.each(CASES)('$label: the gradient is written, not added to what g held', async ({ problem: name, options }) => {
    const problem = await makeProblem(name, options);
    const [start] = points(problem, 0, 0);
    const clean = new Float64Array(problem.dim);
    const dirty = new Float64Array(problem.dim).fill(NaN);
    const f1 = problem.lossAndGrad(start, clean, 0);
    const f2 = problem.lossAndGrad(start, dirty, 0);
    expect(f2).toBe(f1);
    expect([...dirty]).toEqual([...clean]);
  });

  it.each(CASES.filter((c) => OPTIMUM[c.problem]))(
    '$label: loss and gradient vanish at the known optimum',
    async ({ problem: name, options }) => {
      const problem = await makeProblem(name, options);
      const W = Float64Array.from({ length: problem.dim }, (_, i) => OPTIMUM[name](i));
      const g = new Float64Array(problem.dim).fill(1);
      expect(problem.lossAndGrad(W, g, 0)).toBe(0);
      expect([...g].every((x) => x === 0)).toBe(true);
    },
  );
});

/** The problem, started at W0 instead of its own start. */
function startingAt(problem: Problem, W0: Float64Array): Problem {
  return {
    dim: problem.dim,
    decayed: problem.decayed,
    init: (W) => W.set(W0),
    lossAndGrad: (W, g, step) => problem.lossAndGrad(W, g, step),
    finish: (W) => problem.finish(W),
  };
}

describe('weight decay in the run loop', () => {
  const lambda = 0.1;
  const lr = 0.01;

  it.each(CASES)(
    '$label: one sgd step moves decayed weights by an extra −η·λ·W',
    async ({ problem: name, options }) => {
      const problem = await makeProblem(name, options);
      const W0 = new Float64Array(problem.dim);
      problem.init(W0);
      const g0 = new Float64Array(problem.dim);
      problem.lossAndGrad(W0, g0, 0);
      const inSpan = new Array<boolean>(problem.dim).fill(false);
      for (const [start, end] of problem.decayed) {
        expect(0 <= start && start < end && end <= problem.dim).toBe(true);
        for (let i = start; i < end; i++) inSpan[i] = true;
      }

      const plain = runHere(spec('sgd', 1, { lr }), await makeProblem(name, options));
      const decayed = runHere(spec('sgd', 1, { lr }, lambda), await makeProblem(name, options));
      for (let i = 0; i < problem.dim; i++) {
        // W₁ = W₀ − η·(g + λ·W₀) on decayed coordinates, W₀ − η·g elsewhere.
        const expected = W0[i] - lr * (g0[i] + (inSpan[i] ? lambda * W0[i] : 0));
        expect(Math.abs(decayed.W[i] - expected)).toBeLessThanOrEqual(1e-15 * Math.max(1, Math.abs(expected)));
        const extra = decayed.W[i] - plain.W[i];
        const analytic = inSpan[i] ? -lr * lambda * W0[i] : 0;
        expect(Math.abs(extra - analytic)).toBeLessThanOrEqual(1e-14 * Math.max(1, Math.abs(W0[i])));
      }
    },
  );

  it.each(CASES)('$label: the loss gains ½·λ·ΣW² at the start', async ({ problem: name, options }) => {
    const problem = await makeProblem(name, options);
    const W0 = new Float64Array(problem.dim);
    problem.init(W0);
    const f0 = problem.lossAndGrad(W0, new Float64Array(problem.dim), 0);
    let sum = 0;
    for (const [start, end] of problem.decayed) for (let i = start; i < end; i++) sum += W0[i] * W0[i];
    const { result } = runHere(spec('sgd', 0, {}, lambda), await makeProblem(name, options));
    expect(result.status).toBe('ok');
    expect(result.finalLoss).toBeCloseTo(f0 + 0.5 * lambda * sum, 12);
    expect(result.bestLoss).toBe(result.finalLoss);
  });

  // The run loop's decayed loss and the gradient it steps along agree: the gradient
  // is read off one sgd step with η = 1 (W₁ = W₀ − g), the loss off runs of 0 steps.
  it.each(CASES)(
    '$label: the decayed loss and its gradient agree (central differences)',
    async ({ problem: name, options }) => {
      const problem = await makeProblem(name, options);
      const hyper = { ...defaultHyper('sgd'), lr: 1 };
      for (const W0 of points(problem, 2, 99)) {
        const stepped = runHere(spec('sgd', 1, hyper, lambda), startingAt(problem, W0)).W;
        const g = W0.map((w, i) => w - stepped[i]);
        const loss = (W: Float64Array): number =>
          runHere(spec('sgd', 0, hyper, lambda), startingAt(problem, W)).result.finalLoss;
        expect(relativeError(g, centralDifferences(loss, W0))).toBeLessThan(1e-6);
      }
    },
  );

  it('decays only the spans a problem names (a problem with biases)', () => {
    // f(W) = Σ cᵢ·Wᵢ: a constant gradient c. Coordinates 1, 2 and 4 are "weights".
    const c = [0.5, -1, 2, 0.25, -3, 1.5];
    const W0 = [1, 2, -3, 4, -5, 6];
    const decayed: [number, number][] = [
      [1, 3],
      [4, 5],
    ];
    const linear: Problem = {
      dim: c.length,
      decayed,
      init: (W) => W.set(W0),
      lossAndGrad(W, g) {
        let f = 0;
        for (let i = 0; i < c.length; i++) {
          g[i] = c[i];
          f += c[i] * W[i];
        }
        return f;
      },
      finish: () => [],
    };
    const f0 = c.reduce((s, ci, i) => s + ci * W0[i], 0);
    const plain = runHere(spec('sgd', 1, { lr }), linear);
    const withDecay = runHere(spec('sgd', 1, { lr }, lambda), linear);
    const isWeight = (i: number): boolean => decayed.some(([s, e]) => s <= i && i < e);
    for (let i = 0; i < c.length; i++) {
      if (isWeight(i)) expect(withDecay.W[i]).toBeCloseTo(W0[i] - lr * (c[i] + lambda * W0[i]), 14);
      else expect(withDecay.W[i]).toBe(plain.W[i]);
    }
    const weights2 = 2 * 2 + 3 * 3 + 5 * 5;
    const at0 = runHere(spec('sgd', 0, {}, lambda), linear).result;
    expect(at0.finalLoss).toBeCloseTo(f0 + 0.5 * lambda * weights2, 14);
    // λ = 0 is no decay at all, bit for bit.
    const zero = runHere(spec('sgd', 1, { lr }, 0), linear);
    expect([...zero.W]).toEqual([...plain.W]);
  });
});
