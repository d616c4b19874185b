/**
 * THE REFERENCE NETWORK: the book's multi-layer net in plain JavaScript, over the
 * plain-JS products of ./gemm.ts. The problem never runs it: it trains on the
 * WebAssembly kernels (./network.ts). It is here so that the tests can hold the
 * kernel network to an independent implementation of the same math (equal loss
 * and gradient to rounding, on random shapes), and so that the bench can show what
 * plain JavaScript loops cost. The math, the layout and the constants are
 * ./network.ts's (`layout`, `LOG_GUARD`): see the top of that file.
 *
 * Scratch is ordinary JS memory, allocated once, in the constructor.
 */
import { jsGemm, type GemmKernels } from './gemm.js';
import { correctCount, crossEntropySum, layout, type Activation, type Layer } from './network.js';

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

  constructor(
    sizes: readonly number[],
    private readonly activation: Activation,
    capacity: number,
    backwardRows: number,
    private readonly kernels: GemmKernels = jsGemm,
  ) {
    const { layers, dim } = layout(sizes);
    this.layers = layers;
    this.dim = dim;
    this.capacity = capacity;
    this.backwardRows = backwardRows;
    this.input = new Float64Array(capacity * sizes[0]);
    this.targets = new Uint8Array(capacity);
    this.acts = [this.input, ...layers.map((l) => new Float64Array(capacity * l.outputs))];
    const widest = Math.max(...layers.map((l) => l.outputs));
    this.dZ = new Float64Array(backwardRows * widest);
    this.dA = new Float64Array(backwardRows * widest);
  }

  /** Copies one sample (`inputs` floats of `images` from `sample`) into input row `row`. */
  setRow(row: number, images: Float32Array, sample: number, label: number): void {
    const width = this.layers[0].inputs;
    const from = sample * width;
    this.input.set(images.subarray(from, from + width), row * width);
    this.targets[row] = label;
  }

  /** The forward pass over the first `rows` input rows, up to the probabilities. */
  forward(W: Float64Array, rows: number): void {
    const { gemm } = this.kernels;
    const last = this.layers.length - 1;
    for (let l = 0; l <= last; l++) {
      const { inputs, outputs, weights, bias } = this.layers[l];
      const X = this.acts[l];
      const Z = this.acts[l + 1];
      gemm(X, 0, W, weights, Z, 0, rows, inputs, outputs);
      if (l < last) this.biasAndActivation(Z, W, bias, rows, outputs);
      else this.biasAndSoftmax(Z, W, bias, rows, outputs);
    }
  }

  private biasAndActivation(Z: Float64Array, W: Float64Array, bias: number, rows: number, n: number): void {
    const relu = this.activation === 'relu';
    for (let r = 0; r < rows; r++) {
      const row = r * n;
      for (let j = 0; j < n; j++) {
        const z = Z[row + j] + W[bias + j];
        Z[row + j] = relu ? (z > 0 ? z : 0) : 1 / (1 + Math.exp(-z));
      }
    }
  }

  /** Softmax, stable: the row maximum is subtracted before exponentiating. */
  private biasAndSoftmax(Z: Float64Array, W: Float64Array, bias: number, rows: number, n: number): void {
    for (let r = 0; r < rows; r++) {
      const row = r * n;
      let max = -Infinity;
      for (let j = 0; j < n; j++) {
        const z = Z[row + j] + W[bias + j];
        Z[row + j] = z;
        if (z > max) max = z;
      }
      let sum = 0;
      for (let j = 0; j < n; j++) {
        const e = Math.exp(Z[row + j] - max);
        Z[row + j] = e;
        sum += e;
      }
      for (let j = 0; j < n; j++) Z[row + j] /= sum;
    }
  }

  /** Σ −log(P[r, tᵣ] + δ) over the rows of the last forward pass. */
  lossSum(rows: number): number {
    return crossEntropySum(
      this.acts[this.layers.length],
      this.targets,
      rows,
      this.layers[this.layers.length - 1].outputs,
    );
  }

  /** How many rows of the last forward pass predict their label. */
  correct(rows: number): number {
    return correctCount(this.acts[this.layers.length], this.targets, rows, this.layers[this.layers.length - 1].outputs);
  }

  /**
   * The mean loss over the first `rows` input rows, with its gradient written into
   * g. A non-finite parameter gives NaN (the kernels skip zero inputs, so they would
   * not always carry it into the loss).
   */
  lossAndGrad(W: Float64Array, g: Float64Array, rows: number): number {
    if (rows > this.backwardRows) throw new RangeError(`backward pass of ${rows} rows, capacity ${this.backwardRows}`);
    for (let i = 0; i < this.dim; i++) if (!Number.isFinite(W[i])) return NaN;
    this.forward(W, rows);
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
      this.activationGrad(dA, X, rows * inputs);
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
