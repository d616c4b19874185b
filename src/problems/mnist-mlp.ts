/**
 * The book's multi-layer net on MNIST (experiments B and C): 784 → hidden… → 10,
 * fully connected, ReLU or sigmoid, softmax + cross-entropy (./mnist/network.ts).
 *
 * Each step draws a minibatch of `batch_size` training samples with replacement
 * (the book's np.random.choice) from the run's stream `rng(seed, "batches")`, so
 * every optimizer run with the same seed sees the same batches in the same order;
 * the initial network comes from `rng(seed, "init")` (He: std √(2/fan_in), Xavier:
 * √(1/fan_in), or a given std), biases zero. `init` starts a run and rewinds the
 * batch stream, so one instance can serve several runs.
 *
 * `batch_norm` and `dropout` make it the book's MultiLayerNetExtend: Affine →
 * BatchNorm → activation → Dropout in each hidden layer (./mnist/network.ts has the
 * math). γ starts at 1 and β at 0; the running averages of batch norm start at zero
 * with each run, and the dropout masks come from the run's stream
 * `rng(seed, "dropout")`, rewound by `init` like the batches. Every training pass
 * (each `lossAndGrad`, so the final minibatch's too) updates the running averages and
 * draws masks; `finish` evaluates with the test pass (the book's predict with
 * train_flg=False: the running averages, outputs scaled by 1 − dropout), the loss
 * that the run loop records is the training pass's.
 *
 * L2 weight decay is the run loop's: `decayed` lists the weight matrices only (not
 * biases, γ or β, as the book).
 * The data and its split are in ./mnist/data.ts: one SharedArrayBuffer shared by
 * every worker, viewed here, never copied.
 *
 * The network runs in float64 (or float32: `precision`) on the WebAssembly SIMD
 * kernels (./mnist/network.ts): an instance takes all its scratch (each minibatch
 * gathered from the Float32 images, activations, deltas, kernel work space) from
 * `context.arena`,
 * `scratchBytes` of it, and W and g must be views over that arena's memory (the run
 * loop's workspace is). ./mnist/reference.ts is the same net in plain JavaScript,
 * for the tests and the bench only.
 */
import { loadMnist, IMAGE_SIZE, CLASSES, TRAIN_SAMPLES, type MnistData } from './mnist/data.js';
import { Mlp, defaultProducts, layout, networkBytes, type Activation, type Shape } from './mnist/network.js';
import type { Precision } from '../kernels/index.js';
import type { Params } from '../optimizers/index.js';
import { streamState } from '../rng.js';
import { OptionError, type Problem, type ProblemContext, type ProblemDef, type Span } from './types.js';

export type Init = 'he' | 'xavier' | number;
export const PRECISIONS = ['float64', 'float32'] as const;
export type PrecisionName = (typeof PRECISIONS)[number];
export const ACTIVATIONS: readonly Activation[] = ['relu', 'sigmoid'];
export const NAMED_INITS = ['he', 'xavier'] as const;

export interface MnistMlpOptions {
  /** Widths of the hidden layers, input side first. */
  hidden: number[];
  batch_size: number;
  activation: Activation;
  init: Init;
  /** The first `train_samples` of the training split are used. */
  train_samples: number;
  /** Fraction of the used samples held out (the last ones) for validation. */
  validation: number;
  /** Batch norm in every hidden layer. Absent when false, and `dropout` when 0: so a
   * plan that does not use them is the plan it was before they existed (its
   * fingerprint too, and a sweep begun then still resumes). */
  batch_norm?: boolean;
  /** Dropout ratio of every hidden layer's outputs, in [0, 1). */
  dropout?: number;
  /** What the network computes in; absent when float64 (as batch_norm when false). */
  precision?: PrecisionName;
}

export const MNIST_MLP_DEFAULTS: Readonly<MnistMlpOptions> = {
  hidden: [100, 100, 100, 100],
  batch_size: 128,
  activation: 'relu',
  init: 'he',
  train_samples: TRAIN_SAMPLES,
  validation: 0,
  batch_norm: false,
  dropout: 0,
  precision: 'float64',
};

/** Rows per forward pass when `finish` evaluates a whole split. */
const EVAL_ROWS = 256;

/** The kernels' precision of these options: the network's, and its run's parameters'. */
const kernelPrecision = (options: Pick<MnistMlpOptions, 'precision'>): Precision =>
  options.precision === 'float32' ? 'f32' : 'f64';

/** The network's shape for these options: what its scratch is sized by. */
export function networkShape(
  options: Pick<MnistMlpOptions, 'hidden' | 'batch_size' | 'activation' | 'batch_norm' | 'dropout' | 'precision'>,
): Shape {
  const sizes = layerSizes(options);
  const batchNorm = options.batch_norm ?? false;
  return {
    sizes,
    capacity: Math.max(options.batch_size, EVAL_ROWS),
    backwardRows: options.batch_size,
    products: defaultProducts(sizes.length - 1, options.activation, batchNorm),
    batchNorm,
    dropout: options.dropout ?? 0,
    precision: kernelPrecision(options),
  };
}

/** The sample ranges (positions in the shared data) that the options select. */
export interface Parts {
  /** Minibatches are drawn from positions [0, fit). */
  readonly fit: number;
  /** The held-out part, [start, end): validation positions, or the test split. */
  readonly heldOut: readonly [start: number, end: number];
  readonly validating: boolean;
}

export function parts({ train_samples, validation }: MnistMlpOptions, data: Pick<MnistData, 'train' | 'test'>): Parts {
  const held = Math.floor(validation * train_samples);
  return held > 0
    ? { fit: train_samples - held, heldOut: [train_samples - held, train_samples], validating: true }
    : { fit: train_samples, heldOut: [data.train, data.train + data.test], validating: false };
}

/** Layer widths, input first: 784, hidden…, 10. */
export function layerSizes(options: Pick<MnistMlpOptions, 'hidden'>): number[] {
  return [IMAGE_SIZE, ...options.hidden, CLASSES];
}

function initStd(init: Init, fanIn: number): number {
  if (init === 'he') return Math.sqrt(2 / fanIn);
  if (init === 'xavier') return Math.sqrt(1 / fanIn);
  return init;
}

function isInteger(value: unknown, min: number, max = Infinity): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** A run's problem, plus what tests and tools look at: the data views, the batch. */
export interface MnistMlp extends Problem {
  /** Views over the shared data (`buffer` is `context.data.images` itself). */
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  readonly parts: Parts;
  /** Sample positions of the most recent minibatch drawn by `lossAndGrad`. */
  readonly batch: Int32Array;
  /** The mean loss on the given sample positions (at most `batch_size` of them), its
   * gradient into g: a training pass (dropout masks drawn, running averages updated),
   * but nothing drawn from the batch stream. */
  lossAndGradOn(W: Params, g: Params, samples: ArrayLike<number>): number;
  /** What `init` does besides writing W: rewinds the batch and dropout streams, and
   * zeroes batch norm's running averages. */
  rewind(): void;
  /** The network itself (its running averages and last outputs), for tests. */
  readonly net: Mlp;
}

export function createMnistMlp(options: MnistMlpOptions, context: ProblemContext<MnistData>): MnistMlp {
  const { data } = context;
  const images = new Float32Array(data.images);
  const labels = new Uint8Array(data.labels);
  const sizes = layerSizes(options);
  const { layers, dim, weightSpans } = layout(sizes, options.batch_norm);
  const net = new Mlp(networkShape(options), options.activation, context.arena);
  const split = parts(options, data);
  const batch = new Int32Array(options.batch_size);
  let batches = context.rng('batches');

  function lossAndGradOn(W: Params, g: Params, samples: ArrayLike<number>): number {
    for (let r = 0; r < samples.length; r++) net.setRow(r, images, samples[r], labels[samples[r]]);
    return net.lossAndGrad(W, g, samples.length);
  }

  /** Mean loss (without decay) and accuracy over positions [start, end). */
  function evaluate(W: Params, start: number, end: number): { loss: number; accuracy: number } {
    let loss = 0;
    let hits = 0;
    for (let first = start; first < end; first += net.capacity) {
      const rows = Math.min(net.capacity, end - first);
      for (let r = 0; r < rows; r++) net.setRow(r, images, first + r, labels[first + r]);
      net.forward(W, rows);
      loss += net.lossSum(rows);
      hits += net.correct(rows);
    }
    return { loss: loss / (end - start), accuracy: hits / (end - start) };
  }

  /** Rewinds the batch and dropout streams and zeroes the running averages. */
  function rewind(): void {
    batches = context.rng('batches');
    net.reset(streamState(context.seed, 'dropout'));
  }

  return {
    dim,
    decayed: weightSpans as readonly Span[],
    images,
    labels,
    parts: split,
    batch,
    net,
    init(W) {
      const r = context.rng('init');
      for (const { inputs, outputs, weights, bias, gamma, beta } of layers) {
        const std = initStd(options.init, inputs);
        for (let i = weights; i < bias; i++) W[i] = std * r.normal();
        W.fill(0, bias, bias + outputs);
        if (gamma >= 0) {
          W.fill(1, gamma, gamma + outputs);
          W.fill(0, beta, beta + outputs);
        }
      }
      rewind();
    },
    rewind,
    // The run loop calls this once per step, in order: the stream is sequential.
    lossAndGrad(W, g) {
      for (let r = 0; r < batch.length; r++) batch[r] = batches.int(split.fit);
      return lossAndGradOn(W, g, batch);
    },
    lossAndGradOn,
    finish(W) {
      const train = evaluate(W, 0, split.fit);
      const heldOut = evaluate(W, split.heldOut[0], split.heldOut[1]);
      return [train.loss, train.accuracy, heldOut.accuracy];
    },
  };
}

export const mnistMlp: ProblemDef<MnistMlpOptions, MnistData> = {
  name: 'mnist-mlp',
  doc: "the book's multi-layer net on 10,000 MNIST digits (8,000 training, 2,000 test), minibatches drawn with replacement",
  optionsSchema: {
    hidden: {
      type: 'array',
      items: { type: 'integer', minimum: 1 },
      default: MNIST_MLP_DEFAULTS.hidden,
      description:
        'widths of the hidden layers, input side first ([] is softmax regression); default [100, 100, 100, 100]',
    },
    batch_size: {
      type: 'integer',
      minimum: 1,
      default: MNIST_MLP_DEFAULTS.batch_size,
      description: 'samples per minibatch, drawn with replacement; default 128',
    },
    activation: {
      enum: [...ACTIVATIONS],
      default: MNIST_MLP_DEFAULTS.activation,
      description: 'activation of the hidden layers; default "relu"',
    },
    init: {
      anyOf: [{ enum: [...NAMED_INITS] }, { type: 'number', minimum: 0 }],
      default: MNIST_MLP_DEFAULTS.init,
      description:
        'initial weight std: "he" √(2/fan_in), "xavier" √(1/fan_in), or a number (biases start at 0); default "he"',
    },
    train_samples: {
      type: 'integer',
      minimum: 1,
      maximum: TRAIN_SAMPLES,
      default: MNIST_MLP_DEFAULTS.train_samples,
      description: `how many samples of the training split to use, the first ones; default all ${TRAIN_SAMPLES}`,
    },
    validation: {
      type: 'number',
      minimum: 0,
      exclusiveMaximum: 1,
      default: MNIST_MLP_DEFAULTS.validation,
      description:
        'fraction of the used training samples held out (the last ones) for validation; then the metrics report val_acc instead of test_acc; default 0',
    },
    batch_norm: {
      type: 'boolean',
      default: MNIST_MLP_DEFAULTS.batch_norm,
      description:
        "batch normalization in every hidden layer (Affine → BatchNorm → activation, the book's MultiLayerNetExtend; γ and β trained, running averages with momentum 0.9 in the test pass); needs a hidden layer; default false",
    },
    dropout: {
      type: 'number',
      minimum: 0,
      exclusiveMaximum: 1,
      default: MNIST_MLP_DEFAULTS.dropout,
      description:
        "fraction of every hidden layer's outputs dropped in training (a mask drawn per step from the seed); the test pass scales them by 1 − dropout instead; needs a hidden layer; default 0",
    },
    precision: {
      enum: [...PRECISIONS],
      default: MNIST_MLP_DEFAULTS.precision,
      description:
        'what the network and its optimizer compute in: "float64" (the book\'s precision), or "float32": parameters, gradient, optimizer state and every activation in float32 on f32x4 kernels, faster; default "float64"',
    },
  },
  resolve(options) {
    for (const key of Object.keys(options))
      if (!Object.hasOwn(MNIST_MLP_DEFAULTS, key))
        throw new OptionError(`problem.${key}`, `be one of ${Object.keys(MNIST_MLP_DEFAULTS).join(', ')}`, key);
    const o = {} as Record<keyof MnistMlpOptions, unknown>;
    for (const key of Object.keys(MNIST_MLP_DEFAULTS) as (keyof MnistMlpOptions)[])
      o[key] = options[key] ?? MNIST_MLP_DEFAULTS[key];
    if (!Array.isArray(o.hidden)) throw new OptionError('problem.hidden', 'be an array of layer widths', o.hidden);
    o.hidden.forEach((width, i) => {
      if (!isInteger(width, 1)) throw new OptionError(`problem.hidden[${i}]`, 'be an integer >= 1', width);
    });
    if (!isInteger(o.batch_size, 1)) throw new OptionError('problem.batch_size', 'be an integer >= 1', o.batch_size);
    if (!ACTIVATIONS.includes(o.activation as Activation))
      throw new OptionError('problem.activation', `be one of ${ACTIVATIONS.join(', ')}`, o.activation);
    const namedInit = (NAMED_INITS as readonly unknown[]).includes(o.init);
    if (!namedInit && !(typeof o.init === 'number' && Number.isFinite(o.init) && o.init >= 0))
      throw new OptionError('problem.init', `be ${NAMED_INITS.join(' or ')} or a finite std >= 0`, o.init);
    if (!isInteger(o.train_samples, 1, TRAIN_SAMPLES))
      throw new OptionError('problem.train_samples', `be an integer in [1, ${TRAIN_SAMPLES}]`, o.train_samples);
    const v = o.validation;
    if (!(typeof v === 'number' && v >= 0 && v < 1)) throw new OptionError('problem.validation', 'be in [0, 1)', v);
    if (v > 0 && Math.floor(v * o.train_samples) < 1)
      throw new OptionError(
        'problem.validation',
        `hold out at least one of the ${o.train_samples} training samples (be >= ${1 / o.train_samples})`,
        v,
      );
    if (typeof o.batch_norm !== 'boolean')
      throw new OptionError('problem.batch_norm', 'be true or false', o.batch_norm);
    if (o.batch_norm && o.hidden.length === 0)
      throw new OptionError('problem.batch_norm', 'be false for a net without hidden layers (hidden: [])', true);
    const r = o.dropout;
    if (!(typeof r === 'number' && r >= 0 && r < 1)) throw new OptionError('problem.dropout', 'be in [0, 1)', r);
    if (r > 0 && o.hidden.length === 0)
      throw new OptionError('problem.dropout', 'be 0 for a net without hidden layers (hidden: [])', r);
    if (!PRECISIONS.includes(o.precision as PrecisionName))
      throw new OptionError('problem.precision', `be one of ${PRECISIONS.join(', ')}`, o.precision);
    return {
      hidden: [...o.hidden],
      batch_size: o.batch_size,
      activation: o.activation as Activation,
      init: o.init as Init,
      train_samples: o.train_samples,
      validation: v,
      ...(o.batch_norm ? { batch_norm: true } : {}),
      ...(r > 0 ? { dropout: r } : {}),
      ...(o.precision === 'float32' ? { precision: 'float32' as const } : {}),
    };
  },
  dim: (options) => layout(layerSizes(options), options.batch_norm).dim,
  precision: kernelPrecision,
  scratchBytes: (options) => networkBytes(networkShape(options)),
  metrics: (options) => ['train_loss', 'train_acc', options.validation > 0 ? 'val_acc' : 'test_acc'],
  // The book ranks by held-out accuracy (experiment C: the final validation accuracy).
  rank: (options) => ({ column: options.validation > 0 ? 'val_acc' : 'test_acc', higher: true }),
  load: () => loadMnist(),
  create: createMnistMlp,
};
