/**
 * THE REFERENCE NETWORK: the book's multi-layer net in plain JavaScript, over the
 * plain-JS products of ./gemm.ts. The problem never runs it: it trains on the
 * WebAssembly kernels (./network.ts). It is here so that the tests can hold the
 * kernel network to an independent implementation of the same math (equal loss
 * and gradient to rounding, on random shapes), and so that the bench can show what
 * plain JavaScript loops cost. The math, the layout and the constants are
 * ./network.ts's (`layout`, `LOG_GUARD`, `BATCH_NORM_EPS`, `BATCH_NORM_MOMENTUM`):
 * see the top of that file. Those are the specification both must follow; all the
 * code that computes, the loss and the accuracy included, is this file's own, so
 * that a slip in one implementation is not shared by the other.
 *
 * Batch norm and dropout are written as the book's layers are, one step per line
 * of its BatchNormalization and Dropout classes: the dropout mask is kept (the
 * kernel network derives it from the activations instead), and the activation's
 * derivative is taken before the mask. The masks are drawn from the Rng that
 * `reset` is given, `next() > ratio`, row-major, input side first.
 *
 * Scratch is ordinary JS memory, allocated once, in the constructor.
 */
import type { Rng } from '../../rng.js';
import { jsGemm, type GemmKernels } from './gemm.js';
import { BATCH_NORM_EPS, BATCH_NORM_MOMENTUM, LOG_GUARD, layout, type Activation, type Layer } from './network.js';

export interface ReferenceOptions {
  /** Batch norm in every hidden layer (default false). */
  readonly batchNorm?: boolean;
  /** Dropout ratio of every hidden layer's outputs (default 0). */
  readonly dropout?: number;
  /** The products (default: the plain-JS ones). */
  readonly kernels?: GemmKernels;
}

/** One hidden layer's batch norm: what the book's BatchNormalization keeps. */
interface ReferenceNorm {
  /** x − μ of the last training pass (backwardRows × outputs). */
  readonly xc: Float64Array;
  /** √(σ² + ε) of the last training pass. */
  readonly std: Float64Array;
  readonly runningMean: Float64Array;
  readonly runningVar: Float64Array;
}

/** One hidden layer's dropout: the mask of the last training pass and the
 * activation's output before it (backwardRows × outputs each). */
interface ReferenceDropout {
  readonly mask: Uint8Array;
  readonly activated: Float64Array;
}

export class ReferenceMlp {
  readonly layers: readonly Layer[];
  readonly dim: number;
  /** Capacity in rows of the forward pass (`forward` takes up to this many). */
  readonly capacity: number;
  /** The input rows of the next pass (capacity × inputs); filled by `setRow`. */
  readonly input: Float64Array;
  /** The labels of the input rows. */
  readonly targets: Uint8Array;
  /** acts[0] is `input`; acts[l] the output of layer l (probabilities for the last). */
  private readonly acts: Float64Array[];
  /** Ping-pong buffers of the backward pass: dZ of one layer, dA of the one below. */
  private readonly dZ: Float64Array;
  private readonly dA: Float64Array;
  private readonly backwardRows: number;
  private readonly kernels: GemmKernels;
  private readonly norms: (ReferenceNorm | undefined)[];
  private readonly ratio: number;
  private readonly drops: (ReferenceDropout | undefined)[];
  private stream: Rng | undefined;

  constructor(
    sizes: readonly number[],
    private readonly activation: Activation,
    capacity: number,
    backwardRows: number,
    options: ReferenceOptions = {},
  ) {
    const { layers, dim } = layout(sizes, options.batchNorm);
    this.layers = layers;
    this.dim = dim;
    this.capacity = capacity;
    this.backwardRows = backwardRows;
    this.kernels = options.kernels ?? jsGemm;
    this.input = new Float64Array(capacity * sizes[0]);
    this.targets = new Uint8Array(capacity);
    this.acts = [this.input, ...layers.map((l) => new Float64Array(capacity * l.outputs))];
    const widest = Math.max(...layers.map((l) => l.outputs));
    this.dZ = new Float64Array(backwardRows * widest);
    this.dA = new Float64Array(backwardRows * widest);
    this.norms = layers.map(({ gamma, outputs }) =>
      gamma < 0
        ? undefined
        : {
            xc: new Float64Array(backwardRows * outputs),
            std: new Float64Array(outputs),
            runningMean: new Float64Array(outputs),
            runningVar: new Float64Array(outputs),
          },
    );
    this.ratio = options.dropout ?? 0;
    const last = layers.length - 1;
    this.drops = layers.map(({ outputs }, l) =>
      this.ratio > 0 && l < last
        ? { mask: new Uint8Array(backwardRows * outputs), activated: new Float64Array(backwardRows * outputs) }
        : undefined,
    );
  }

  /** Starts a run: running averages to zero; dropout masks drawn from `stream`. */
  reset(stream?: Rng): void {
    for (const norm of this.norms) {
      norm?.runningMean.fill(0);
      norm?.runningVar.fill(0);
    }
    this.stream = stream;
  }

  /** Layer l's running mean and variance (a hidden layer with batch norm). */
  running(l: number): { mean: Float64Array; variance: Float64Array } {
    const norm = this.norms[l];
    if (!norm) throw new RangeError(`layer ${l} has no batch norm`);
    return { mean: norm.runningMean, variance: norm.runningVar };
  }

  /** Copies one sample (`inputs` floats of `images` from `sample`) into input row `row`. */
  setRow(row: number, images: Float32Array, sample: number, label: number): void {
    const width = this.layers[0].inputs;
    const from = sample * width;
    this.input.set(images.subarray(from, from + width), row * width);
    this.targets[row] = label;
  }

  /** The forward pass over the first `rows` input rows, up to the probabilities: the
   * test pass unless `train`. */
  forward(W: Float64Array, rows: number, train = false): void {
    const { gemm } = this.kernels;
    const last = this.layers.length - 1;
    for (let l = 0; l <= last; l++) {
      const { inputs, outputs, weights, bias } = this.layers[l];
      const X = this.acts[l];
      const Z = this.acts[l + 1];
      gemm(X, 0, W, weights, Z, 0, rows, inputs, outputs);
      addBias(Z, W, bias, rows, outputs);
      if (l === last) {
        softmax(Z, rows, outputs);
        break;
      }
      const norm = this.norms[l];
      if (norm) {
        if (train) batchNormTrain(norm, Z, W, this.layers[l], rows);
        else batchNormTest(norm, Z, W, this.layers[l], rows);
      }
      this.activate(Z, rows * outputs);
      if (this.ratio > 0) {
        if (train) this.drop(this.drops[l]!, Z, rows * outputs);
        else for (let i = 0; i < rows * outputs; i++) Z[i] = Z[i] * (1 - this.ratio);
      }
    }
  }

  private activate(Z: Float64Array, count: number): void {
    if (this.activation === 'relu') for (let i = 0; i < count; i++) Z[i] = Z[i] > 0 ? Z[i] : 0;
    else for (let i = 0; i < count; i++) Z[i] = 1 / (1 + Math.exp(-Z[i]));
  }

  /** The book's Dropout.forward(train_flg=True): mask = rand > ratio; x·mask. */
  private drop(d: ReferenceDropout, Z: Float64Array, count: number): void {
    if (!this.stream) throw new Error('reference network: dropout needs a stream (call reset)');
    for (let i = 0; i < count; i++) {
      d.activated[i] = Z[i];
      d.mask[i] = this.stream.next() > this.ratio ? 1 : 0;
      Z[i] = Z[i] * d.mask[i];
    }
  }

  /** The probabilities of the last forward pass, one row of `classes` per sample. */
  private probabilities(r: number): Float64Array {
    const classes = this.layers[this.layers.length - 1].outputs;
    return this.acts[this.layers.length].subarray(r * classes, (r + 1) * classes);
  }

  /** The book's cross_entropy_error without its division by the batch:
   * Σ −log(y[r, tᵣ] + 1e-7) over the rows of the last forward pass. */
  lossSum(rows: number): number {
    let sum = 0;
    for (let r = 0; r < rows; r++) sum += -Math.log(this.probabilities(r)[this.targets[r]] + LOG_GUARD);
    return sum;
  }

  /** The book's accuracy without its division: how many rows of the last forward
   * pass have np.argmax(y) (the first maximum) equal to their label. */
  correct(rows: number): number {
    let hits = 0;
    for (let r = 0; r < rows; r++) if (argmax(this.probabilities(r)) === this.targets[r]) hits++;
    return hits;
  }

  /**
   * The mean loss over the first `rows` input rows (a training pass), with its
   * gradient written into g. A non-finite parameter gives NaN (the kernels skip zero
   * inputs, so they would not always carry it into the loss).
   */
  lossAndGrad(W: Float64Array, g: Float64Array, rows: number): number {
    if (rows > this.backwardRows) throw new RangeError(`backward pass of ${rows} rows, capacity ${this.backwardRows}`);
    for (let i = 0; i < this.dim; i++) if (!Number.isFinite(W[i])) return NaN;
    this.forward(W, rows, true);
    const loss = this.lossSum(rows) / rows;
    this.backward(W, g, rows);
    return loss;
  }

  /** Backprop of the mean loss over the last forward pass's `rows` rows. */
  private backward(W: Float64Array, g: Float64Array, rows: number): void {
    const { gemmTN, gemmNT } = this.kernels;
    const top = this.layers.length;
    const P = this.acts[top];
    const classes = this.layers[top - 1].outputs;
    let dZ = this.dZ;
    let dA = this.dA;
    for (let r = 0; r < rows; r++) {
      const row = r * classes;
      for (let j = 0; j < classes; j++) dZ[row + j] = P[row + j] / rows;
      dZ[row + this.targets[r]] -= 1 / rows;
    }
    for (let l = top - 1; l >= 0; l--) {
      const { inputs, outputs, weights, bias } = this.layers[l];
      const X = this.acts[l];
      gemmTN(X, 0, dZ, 0, g, weights, inputs, rows, outputs);
      for (let j = 0; j < outputs; j++) g[bias + j] = 0;
      for (let r = 0; r < rows; r++) {
        const row = r * outputs;
        for (let j = 0; j < outputs; j++) g[bias + j] += dZ[row + j];
      }
      if (l === 0) break; // no gradient with respect to the data
      gemmNT(dZ, 0, W, weights, dA, 0, rows, outputs, inputs);
      // Layer l − 1 backwards: dropout, activation, batch norm.
      const count = rows * inputs;
      const d = this.drops[l - 1];
      if (d) for (let i = 0; i < count; i++) dA[i] = dA[i] * d.mask[i];
      this.activationGrad(dA, d ? d.activated : X, count);
      const norm = this.norms[l - 1];
      if (norm) batchNormBackward(norm, dA, W, g, this.layers[l - 1], rows);
      [dZ, dA] = [dA, dZ];
    }
  }

  /** dA ← dA ⊙ act′, in place, from the activations A themselves. */
  private activationGrad(dA: Float64Array, A: Float64Array, count: number): void {
    if (this.activation === 'relu') {
      for (let i = 0; i < count; i++) if (A[i] <= 0) dA[i] = 0;
    } else {
      for (let i = 0; i < count; i++) dA[i] *= A[i] * (1 - A[i]);
    }
  }
}

/** np.argmax: the index of the first largest element. */
function argmax(y: Float64Array): number {
  let best = 0;
  y.forEach((v, j) => {
    if (v > y[best]) best = j;
  });
  return best;
}

function addBias(Z: Float64Array, W: Float64Array, bias: number, rows: number, n: number): void {
  for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) Z[r * n + j] += W[bias + j];
}

/** The book's softmax, row by row: exp(z − max z) / Σ exp(z − max z). */
function softmax(Z: Float64Array, rows: number, n: number): void {
  for (let r = 0; r < rows; r++) {
    const z = Z.subarray(r * n, (r + 1) * n);
    const max = Math.max(...z);
    const sum = z.reduce((s, v) => s + Math.exp(v - max), 0);
    z.forEach((v, j) => (z[j] = Math.exp(v - max) / sum));
  }
}

/** The book's BatchNormalization.__forward with train_flg=True, in place on x (the
 * rows × outputs of `layer`). */
function batchNormTrain(norm: ReferenceNorm, x: Float64Array, W: Float64Array, layer: Layer, rows: number): void {
  const { xc, std, runningMean, runningVar } = norm;
  const { gamma, beta, outputs: n } = layer;
  const mu = new Float64Array(n);
  const variance = new Float64Array(n);
  for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) mu[j] += x[r * n + j]; // mu = x.mean(axis=0)
  for (let j = 0; j < n; j++) mu[j] /= rows;
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < n; j++) {
      xc[r * n + j] = x[r * n + j] - mu[j]; // xc = x - mu
      variance[j] += xc[r * n + j] * xc[r * n + j]; // var = np.mean(xc**2, axis=0)
    }
  for (let j = 0; j < n; j++) {
    variance[j] /= rows;
    std[j] = Math.sqrt(variance[j] + BATCH_NORM_EPS); // std = np.sqrt(var + 10e-7)
  }
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < n; j++) {
      const xn = xc[r * n + j] / std[j]; // xn = xc / std
      x[r * n + j] = W[gamma + j] * xn + W[beta + j]; // out = gamma * xn + beta
    }
  const m = BATCH_NORM_MOMENTUM;
  for (let j = 0; j < n; j++) {
    runningMean[j] = m * runningMean[j] + (1 - m) * mu[j];
    runningVar[j] = m * runningVar[j] + (1 - m) * variance[j];
  }
}

/** train_flg=False: the running averages in place of the batch's. */
function batchNormTest(norm: ReferenceNorm, x: Float64Array, W: Float64Array, layer: Layer, rows: number): void {
  const { gamma, beta, outputs: n } = layer;
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < n; j++) {
      const xc = x[r * n + j] - norm.runningMean[j];
      const xn = xc / Math.sqrt(norm.runningVar[j] + BATCH_NORM_EPS);
      x[r * n + j] = W[gamma + j] * xn + W[beta + j];
    }
}

/** The book's BatchNormalization.__backward: dγ, dβ into g, dx in place of dout. */
function batchNormBackward(
  norm: ReferenceNorm,
  dout: Float64Array,
  W: Float64Array,
  g: Float64Array,
  layer: Layer,
  rows: number,
): void {
  const { xc, std } = norm;
  const { gamma, beta, outputs: n } = layer;
  const dstd = new Float64Array(n);
  const dmu = new Float64Array(n);
  for (let j = 0; j < n; j++) g[beta + j] = g[gamma + j] = 0;
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < n; j++) {
      const i = r * n + j;
      g[beta + j] += dout[i]; // dbeta = dout.sum(axis=0)
      g[gamma + j] += (xc[i] / std[j]) * dout[i]; // dgamma = np.sum(self.xn * dout, axis=0)
      const dxn = W[gamma + j] * dout[i]; // dxn = self.gamma * dout
      dstd[j] += (dxn * xc[i]) / (std[j] * std[j]); // dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
    }
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < n; j++) {
      const i = r * n + j;
      const dvar = (0.5 * -dstd[j]) / std[j]; // dvar = 0.5 * dstd / self.std
      let dxc = (W[gamma + j] * dout[i]) / std[j]; // dxc = dxn / self.std
      dxc += (2.0 / rows) * xc[i] * dvar; // dxc += (2.0 / self.batch_size) * self.xc * dvar
      dout[i] = dxc;
      dmu[j] += dxc; // dmu = np.sum(dxc, axis=0)
    }
  for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) dout[r * n + j] -= dmu[j] / rows; // dx = dxc - dmu / N
}
