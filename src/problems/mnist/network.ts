/**
 * The book's multi-layer net (MultiLayerNet of ch. 6), over a flat parameter vector,
 * in float64 (or float32) on the WebAssembly SIMD kernels (src/kernels/index.ts):
 *
 *     A₀ = X;   Zₗ = Aₗ₋₁·Wₗ + bₗ;   Aₗ = act(Zₗ) (l < L);   P = softmax(Z_L)
 *     loss = −(1/B) Σᵣ log(P[r, tᵣ] + δ),   δ = 1e-7 (the book's guard against log 0)
 *
 * Backprop as the book's layers do it: dZ_L = (P − onehot(t))/B, the gradient of the
 * cross-entropy without δ (the two differ by a factor P/(P + δ), under 1e-5 for any
 * P above 0.01, and keeping the book's form keeps confidently wrong samples pushing);
 * dWₗ = Aₗ₋₁ᵀ·dZₗ; dbₗ = Σᵣ dZₗ; dAₗ₋₁ = dZₗ·Wₗᵀ; dZₗ₋₁ = dAₗ₋₁ ⊙ act′.
 *
 * BATCH NORMALIZATION AND DROPOUT, as the book's MultiLayerNetExtend: each hidden
 * layer is Affine → [BatchNorm] → activation → [Dropout].
 *   BatchNorm (`batchNorm`), per unit j over the B rows of a training pass:
 *   μ = mean of Zₗ[·, j], σ² its variance (over B), xc = Zₗ − μ, s = √(σ² + ε) with the
 *   book's ε = 1e-6 (its `10e-7`), output γⱼ·xc/s + βⱼ; the running averages
 *   mean ← 0.9·mean + 0.1·μ, var ← 0.9·var + 0.1·σ² (from zero at the start of a run)
 *   replace μ and σ² in the test pass (`forward` with train false: evaluation). The
 *   backward pass is the book's (kernels/gemm_impl.h, batch_norm_backward). γ and β
 *   are parameters; bₗ stays (as in the book), though in training it cancels against
 *   μ: its gradient is zero up to rounding.
 *   Dropout (`dropout` = r > 0): in training each hidden output is kept when its
 *   uniform draw is > r (the book's `rand > ratio`), else zeroed; in the test pass
 *   every output is scaled by 1 − r. The draws come from the stream `reset` is
 *   given, row-major over each layer's B × width outputs, input side first, and are
 *   made by the dropout kernel itself (sfc32, src/rng.ts's generator; as fast as the
 *   rest of the layer, where JS draws would cost a tenth of an iteration). The
 *   backward pass needs no mask: the activations stored are the outputs after
 *   dropout, Aₗ = mask ⊙ act(·), and mask ⊙ act′ is what act′ gives from them (ReLU:
 *   Aₗ > 0; sigmoid: Aₗ(1 − Aₗ), 0 where dropped).
 * A training pass (`lossAndGrad`) normalises by the batch, updates the running
 * averages and draws the masks; the test pass draws nothing and changes nothing.
 *
 * Parameter layout: W₁, b₁, [γ₁, β₁,] W₂, b₂, [γ₂, β₂,] …, W_L, b_L contiguous (γ, β
 * for hidden layers with batch norm); Wₗ is row-major inputs × outputs (the book's
 * x·W), so Wₗ[i, j] joins input i to unit j.
 *
 * MEMORY. Every array the kernels touch lives in one shared WebAssembly.Memory: the
 * scratch below comes from the run's arena (`context.arena`), in the order and sizes
 * of `scratchLengths` (which `mnistMlp.scratchBytes` sums, so a lane is sized
 * exactly), and the parameters W and gradient g must be views over the same memory
 * (the run loop carves them from that arena): the kernels get their byte offsets.
 *
 * WHICH PRODUCTS SKIP ZEROS. The sparse products (nnSparse, tnSparse) skip the exact
 * zeros of their left operand: the MNIST pixels (about 80% zeros), the ReLU outputs
 * (about half), and the deltas below a ReLU (zero where its output is). Measured on
 * the default 784-100-100-100-100-10 net at batch 128 (2-core AMD EPYC, AVX2 as the guest sees it, Node 20),
 * one forward + backward pass, medians of interleaved runs: all dense 5.1 ms,
 * `defaultProducts` 2.8 ms. Of that, the first layer's sparse forward and dW save
 * 0.9 and 1.0 ms; the hidden layers' sparse dW 60–90 µs each, their sparse dA
 * (transpose + nnSparse) 30–120 µs each; their sparse forward is a wash (kept: ReLU
 * outputs only get sparser in training). The output layer (10 columns) is faster
 * dense, by 60 µs: a sparse row pass has little to amortize its compaction over.
 * With sigmoid nothing but the pixels has zeros. bench/mnist.ts prints the
 * all-dense figure beside the default.
 *
 * FLOAT32 (`precision` 'f32'). The same network on the f32x4 kernels (four lanes, not
 * two), every array of its scratch in float32, and so are W and g: the run loop gives
 * a float32 problem Float32Arrays (`mnistMlp.precision`), and its optimizer steps with
 * the float32 kernels, as PyTorch's default float32 training does. Nothing is
 * converted between precisions in a step.
 *
 * NON-FINITE PARAMETERS. A skipped 0·NaN or 0·Inf gives no NaN (a weight from an
 * always-black pixel would stay NaN unseen), so `lossAndGrad` checks W itself and
 * returns NaN at any non-finite parameter: the run loop ends the run as diverged.
 * The check sums the columns of each layer's [Wₗ; bₗ] (one (inputs+1) × outputs
 * matrix in the layout; [Wₗ; bₗ; γₗ; βₗ], (inputs+3) × outputs, with batch norm) with
 * the colSums kernel: a NaN or ±Inf makes its column's
 * sum non-finite (NaN absorbs, Inf + −Inf is NaN). 23 µs against 80–200 µs for a JS
 * loop over the 109,810 parameters. Only finite weights above about 1e305 could
 * overflow a sum: a run that far gone has diverged in any sense.
 */
import { arenaBytesOf, type Arena } from '../../arena.js';
import {
  ELEMENT_BYTES,
  KERNEL_HEAP_BASE,
  WASM_PAGE_BYTES,
  createSharedMemory,
  dropoutThreshold,
  gemmKernels,
  type GemmKernels,
  type KernelMemory,
  type Precision,
} from '../../kernels/index.js';
import type { Span } from '../types.js';

export type Activation = 'relu' | 'sigmoid';

/** δ inside the log of the cross-entropy (the book's 1e-7). */
export const LOG_GUARD = 1e-7;
/** ε inside the square root of batch norm (the book's `10e-7`, which is 1e-6). */
export const BATCH_NORM_EPS = 1e-6;
/** Weight of the old running average in each update (the book's momentum 0.9). */
export const BATCH_NORM_MOMENTUM = 0.9;

/** An array of the network's precision. */
export type Floats = Float32Array | Float64Array;

export interface Layer {
  readonly inputs: number;
  readonly outputs: number;
  /** Offset of Wₗ (inputs × outputs) in the parameter vector. */
  readonly weights: number;
  /** Offset of bₗ (outputs). */
  readonly bias: number;
  /** Offsets of γₗ and βₗ (outputs each) for a layer with batch norm, else −1. */
  readonly gamma: number;
  readonly beta: number;
}

export interface Layout {
  readonly layers: readonly Layer[];
  readonly dim: number;
  /** The weight matrices (what L2 decay applies to), never the biases. */
  readonly weightSpans: readonly Span[];
}

/** Where each layer's parameters sit, for layer widths `sizes` (input first, output
 * last); with `batchNorm`, every hidden layer has γ and β after its bias. */
export function layout(sizes: readonly number[], batchNorm = false): Layout {
  const layers: Layer[] = [];
  let offset = 0;
  for (let l = 1; l < sizes.length; l++) {
    const inputs = sizes[l - 1];
    const outputs = sizes[l];
    const weights = offset;
    const bias = weights + inputs * outputs;
    const normalized = batchNorm && l < sizes.length - 1;
    const gamma = normalized ? bias + outputs : -1;
    const beta = normalized ? gamma + outputs : -1;
    layers.push({ inputs, outputs, weights, bias, gamma, beta });
    offset = (normalized ? beta : bias) + outputs;
  }
  return { layers, dim: offset, weightSpans: layers.map((l) => [l.weights, l.bias] as const) };
}

/** For each layer l (0 = the input layer), whether its products skip zeros. */
export interface Products {
  /** Zₗ = Aₗ₋₁·Wₗ by nnSparse (zeros of Aₗ₋₁) rather than nn. */
  readonly forward: readonly boolean[];
  /** dWₗ = Aₗ₋₁ᵀ·dZₗ by tnSparse (zeros of Aₗ₋₁) rather than tn. */
  readonly weightGrad: readonly boolean[];
  /** dAₗ₋₁ = dZₗ·Wₗᵀ by transpose(Wₗ) + nnSparse (zeros of dZₗ) rather than nt;
   * never used for layer 0 (no gradient with respect to the data). */
  readonly inputGrad: readonly boolean[];
}

/** The products that skip zeros, as measured best (see the top of this file): those
 * whose left operand is the pixels (layer 0), or ReLU outputs or deltas of a hidden
 * layer; the output layer's (10 columns wide) stay dense unless it is layer 0. Batch
 * norm spreads every delta over the whole column, so with it no delta has zeros to
 * skip (the ReLU outputs still do). */
export function defaultProducts(layerCount: number, activation: Activation, batchNorm = false): Products {
  const relu = activation === 'relu';
  const output = layerCount - 1;
  const layers = Array.from({ length: layerCount }, (_, l) => l);
  return {
    forward: layers.map((l) => l === 0 || (relu && l < output)),
    weightGrad: layers.map((l) => l === 0 || (relu && l < output)),
    inputGrad: layers.map((l) => relu && !batchNorm && l > 0 && l < output),
  };
}

/** Every product dense (the bench's comparison). */
export function denseProducts(layerCount: number): Products {
  const none = new Array<boolean>(layerCount).fill(false);
  return { forward: none, weightGrad: none, inputGrad: none };
}

/** The shape of a network's scratch: rows of the forward pass and of the backward pass. */
export interface Shape {
  readonly sizes: readonly number[];
  /** Rows a forward pass takes at most (evaluation runs in chunks of this many). */
  readonly capacity: number;
  /** Rows a backward pass takes at most (the minibatch). */
  readonly backwardRows: number;
  readonly products: Products;
  /** Batch norm in every hidden layer (default false). */
  readonly batchNorm?: boolean;
  /** Dropout ratio of every hidden layer's outputs, in [0, 1) (default 0). */
  readonly dropout?: number;
  /** The precision the network computes in (default f64; see FLOAT32 at the top). */
  readonly precision?: Precision;
}

/**
 * The lengths of the network's scratch in elements of its precision, in the order it
 * takes them from the arena: input (capacity × 784), one activation per layer
 * (capacity × outputs), the two delta buffers (backwardRows × widest layer), Wᵀ for
 * the sparse dA products, the sparse products' work space, the column sums of the
 * finiteness check (widest layer), the dropout stream's state (16 bytes: four u32),
 * per hidden layer with batch norm xc (backwardRows × outputs), s (outputs) and the
 * running mean and variance (outputs each). `workBytes` is
 * `GemmKernels.sparseWorkBytes` of that precision.
 */
export function scratchLengths(shape: Shape, workBytes: (depth: number) => number): number[] {
  const { sizes, capacity, backwardRows, products } = shape;
  const { layers } = layout(sizes, shape.batchNorm);
  const bytes = ELEMENT_BYTES[shape.precision ?? 'f64'];
  const widest = Math.max(...layers.map((l) => l.outputs));
  let transposed = 0;
  let depth = 0; // the largest K of a sparse product
  layers.forEach(({ inputs, outputs }, l) => {
    if (products.forward[l]) depth = Math.max(depth, inputs);
    if (products.weightGrad[l]) depth = Math.max(depth, backwardRows);
    if (l > 0 && products.inputGrad[l]) {
      depth = Math.max(depth, outputs);
      transposed = Math.max(transposed, inputs * outputs);
    }
  });
  return [
    capacity * sizes[0],
    ...layers.map((l) => capacity * l.outputs),
    backwardRows * widest,
    backwardRows * widest,
    transposed,
    depth > 0 ? Math.ceil(workBytes(depth) / bytes) : 0,
    widest,
    (shape.dropout ?? 0) > 0 ? STREAM_STATE_BYTES / bytes : 0,
    ...layers.filter((l) => l.gamma >= 0).flatMap((l) => [backwardRows * l.outputs, l.outputs, 2 * l.outputs]),
  ];
}

/** Bytes of arena the network of this shape takes (where no memory is at hand yet:
 * sizing a lane). */
export function networkBytes(shape: Shape): number {
  const precision = shape.precision ?? 'f64';
  const lengths = scratchLengths(shape, (depth) => sparseWorkBytes(depth, precision));
  return arenaBytesOf(ELEMENT_BYTES[precision], lengths);
}

/** The sfc32 state: four u32. */
const STREAM_STATE_BYTES = 16;

/** The running averages of one batch-norm layer (views of the network's scratch). */
export interface Running {
  readonly mean: Floats;
  readonly variance: Floats;
}

/** The scratch of one batch-norm layer. */
interface Norm {
  /** Byte offsets of xc (backwardRows × outputs) and s (outputs) of the last training pass. */
  readonly xcAt: number;
  readonly stdAt: number;
  readonly running: Running;
}

let probe: KernelMemory | undefined;

/** Σ −log(P[r, tᵣ] + δ) over `rows` rows of softmax outputs P (n per row), labels t. */
function crossEntropySum(P: Floats, targets: ArrayLike<number>, rows: number, n: number): number {
  let s = 0;
  for (let r = 0; r < rows; r++) s -= Math.log(P[r * n + targets[r]] + LOG_GUARD);
  return s;
}

/** How many of `rows` rows of P predict their label t (the first maximum wins). */
function correctCount(P: Floats, targets: ArrayLike<number>, rows: number, n: number): number {
  let hits = 0;
  for (let r = 0; r < rows; r++) {
    const row = r * n;
    let best = 0;
    for (let j = 1; j < n; j++) if (P[row + j] > P[row + best]) best = j;
    if (best === targets[r]) hits++;
  }
  return hits;
}

/** `sparseWorkBytes` where no memory is at hand (sizing a lane before it exists):
 * the kernels on a small memory of their own, one per thread. */
export function sparseWorkBytes(depth: number, precision: Precision = 'f64'): number {
  probe ??= createSharedMemory(WASM_PAGE_BYTES, KERNEL_HEAP_BASE + WASM_PAGE_BYTES);
  return gemmKernels(precision, probe).sparseWorkBytes(depth);
}

export class Mlp {
  readonly layers: readonly Layer[];
  readonly dim: number;
  /** Capacity in rows of the forward pass (`forward` takes up to this many). */
  readonly capacity: number;
  /** The input rows of the next pass (capacity × inputs); filled by `setRow`. */
  readonly input: Floats;
  /** The labels of the input rows. */
  readonly targets: Uint8Array;
  readonly precision: Precision;
  /** Bytes per element of the precision. */
  private readonly bytes: number;
  private readonly backwardRows: number;
  private readonly products: Products;
  private readonly kernels: GemmKernels;
  private readonly buffer: ArrayBufferLike;
  /** acts[0] is `input`; acts[l] the output of layer l (probabilities for the last). */
  private readonly acts: Floats[];
  /** Ping-pong buffers of the backward pass: dZ of one layer, dA of the one below. */
  private readonly dZ: Floats;
  private readonly dA: Floats;
  /** Byte offsets of the scratch, for the kernels. */
  private readonly actAt: number[];
  private readonly transposedAt: number;
  private readonly workAt: number;
  /** Column sums of the finiteness check. */
  private readonly sums: Floats;
  /** Per layer, its batch norm's scratch (undefined: none). */
  private readonly norms: (Norm | undefined)[];
  readonly dropout: number;
  /** The dropout stream: the sfc32 state the dropout kernel advances. */
  private readonly stream: Uint32Array;
  /** Dropout keeps an output when its u32 draw is above this (`dropoutThreshold`). */
  private readonly keepAbove: number;

  constructor(
    shape: Shape,
    private readonly activation: Activation,
    arena: Arena,
  ) {
    const { layers, dim } = layout(shape.sizes, shape.batchNorm);
    this.layers = layers;
    this.dim = dim;
    this.capacity = shape.capacity;
    this.backwardRows = shape.backwardRows;
    this.products = shape.products;
    this.precision = shape.precision ?? 'f64';
    this.bytes = ELEMENT_BYTES[this.precision];
    this.kernels = gemmKernels(this.precision, arena.memory);
    this.buffer = arena.memory.buffer;
    const take = (n: number): Floats => (this.precision === 'f32' ? arena.f32(n) : arena.f64(n));
    const [input, ...rest] = scratchLengths(shape, this.kernels.sparseWorkBytes).map(take);
    const [dZ, dA, transposed, work, sums, stream, ...more] = rest.splice(layers.length);
    this.norms = layers.map(({ gamma, outputs }) => {
      if (gamma < 0) return undefined;
      const [xc, std, running] = more.splice(0, 3);
      const variance = running.subarray(outputs);
      return { xcAt: xc.byteOffset, stdAt: std.byteOffset, running: { mean: running.subarray(0, outputs), variance } };
    });
    this.dropout = shape.dropout ?? 0;
    this.stream = new Uint32Array(stream.buffer, stream.byteOffset, stream.byteLength / 4);
    this.keepAbove = dropoutThreshold(this.dropout);
    this.input = input;
    this.targets = new Uint8Array(shape.capacity);
    this.acts = [input, ...rest];
    this.dZ = dZ;
    this.dA = dA;
    this.actAt = this.acts.map((a) => a.byteOffset);
    this.transposedAt = transposed.byteOffset;
    this.workAt = work.byteOffset;
    this.sums = sums;
  }

  /** Starts a run: the running averages of batch norm back to zero, and the dropout
   * masks drawn from here on from the stream whose state is `dropoutStream` (four
   * u32, see `streamState` in src/rng.ts; ignored without dropout). */
  reset(dropoutStream: ArrayLike<number>): void {
    for (const norm of this.norms) {
      norm?.running.mean.fill(0);
      norm?.running.variance.fill(0);
    }
    if (this.dropout > 0) this.stream.set(dropoutStream);
  }

  /** Layer l's running averages (a hidden layer with batch norm), for tests. */
  running(l: number): Running {
    const norm = this.norms[l];
    if (!norm) throw new RangeError(`layer ${l} has no batch norm`);
    return norm.running;
  }

  /** Layer l's output in the last forward pass (its first rows × outputs), for tests. */
  output(l: number): Floats {
    return this.acts[l + 1];
  }

  /** Copies one sample (`inputs` floats of `images` from `sample`) into input row `row`. */
  setRow(row: number, images: Float32Array, sample: number, label: number): void {
    const width = this.layers[0].inputs;
    const from = sample * width;
    this.input.set(images.subarray(from, from + width), row * width);
    this.targets[row] = label;
  }

  /** The byte offset of a parameter-sized view of the network's precision over its
   * memory. */
  private at(name: string, v: Floats): number {
    const type = this.precision === 'f32' ? Float32Array : Float64Array;
    if (!(v instanceof type)) throw new TypeError(`mnist-mlp: ${name} must be a ${type.name}`);
    if (v.buffer !== this.buffer)
      throw new TypeError(
        `mnist-mlp: ${name} must be a view over the run's arena memory (context.arena.memory.buffer), as the run loop's workspace is`,
      );
    if (v.length < this.dim)
      throw new RangeError(`mnist-mlp: ${name} has ${v.length} elements, the network ${this.dim}`);
    return v.byteOffset;
  }

  /**
   * The forward pass over the first `rows` input rows, up to the probabilities: the
   * test pass (the book's train_flg=False) unless `train` (see the top of this file;
   * a training pass takes at most backwardRows rows).
   */
  forward(W: Floats, rows: number, train = false): void {
    this.forwardAt(this.at('W', W), rows, train);
  }

  /** `forward` with the parameters at byte offset w. */
  private forwardAt(w: number, rows: number, train: boolean): void {
    if (rows > (train ? this.backwardRows : this.capacity))
      throw new RangeError(`forward pass of ${rows} rows, capacity ${train ? this.backwardRows : this.capacity}`);
    const k = this.kernels;
    const B = this.bytes;
    const relu = this.activation === 'relu';
    const last = this.layers.length - 1;
    for (let l = 0; l <= last; l++) {
      const { inputs, outputs, weights, bias, gamma, beta } = this.layers[l];
      const X = this.actAt[l];
      const Z = this.actAt[l + 1];
      const Wl = w + B * weights;
      const b = w + B * bias;
      if (this.products.forward[l]) k.nnSparse(rows, outputs, inputs, X, Wl, Z, false, this.workAt);
      else k.nn(rows, outputs, inputs, X, Wl, Z);
      if (l === last) {
        k.biasAdd(rows, outputs, b, Z);
        softmax(this.acts[l + 1], rows, outputs);
        break;
      }
      const norm = this.norms[l];
      if (norm) {
        k.biasAdd(rows, outputs, b, Z);
        const g = w + B * gamma;
        const be = w + B * beta;
        const { mean, variance } = norm.running;
        if (train)
          k.batchNormTrain(
            rows,
            outputs,
            Z,
            g,
            be,
            norm.xcAt,
            norm.stdAt,
            mean.byteOffset,
            variance.byteOffset,
            BATCH_NORM_MOMENTUM,
            BATCH_NORM_EPS,
            relu,
          );
        else k.batchNormTest(rows, outputs, Z, g, be, mean.byteOffset, variance.byteOffset, BATCH_NORM_EPS, relu);
      } else if (relu) k.biasRelu(rows, outputs, b, Z);
      else k.biasAdd(rows, outputs, b, Z);
      if (!relu) sigmoid(this.acts[l + 1], rows * outputs);
      if (this.dropout > 0) {
        if (train) k.dropout(rows * outputs, Z, this.stream.byteOffset, this.keepAbove);
        else k.scale(rows * outputs, 1 - this.dropout, Z);
      }
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
   * g. A non-finite parameter gives NaN (see the top of this file).
   */
  lossAndGrad(W: Floats, g: Floats, rows: number): number {
    if (rows > this.backwardRows) throw new RangeError(`backward pass of ${rows} rows, capacity ${this.backwardRows}`);
    const gAt = this.at('g', g);
    const w = this.at('W', W);
    if (!this.finite(w)) return NaN;
    this.forwardAt(w, rows, true);
    const loss = this.lossSum(rows) / rows;
    this.backward(w, gAt, rows);
    return loss;
  }

  /** Whether every parameter at byte offset w is finite (see the top of this file). */
  private finite(w: number): boolean {
    const { sums } = this;
    for (const { inputs, outputs, weights, gamma } of this.layers) {
      const rows = inputs + (gamma >= 0 ? 3 : 1); // [Wₗ; bₗ] or [Wₗ; bₗ; γₗ; βₗ]
      this.kernels.colSums(rows, outputs, w + this.bytes * weights, sums.byteOffset);
      for (let j = 0; j < outputs; j++) if (!Number.isFinite(sums[j])) return false;
    }
    return true;
  }

  /** Backprop of the mean loss over the last forward pass's `rows` rows, with the
   * parameters at byte offset w and the gradient written at gAt. */
  private backward(w: number, gAt: number, rows: number): void {
    const k = this.kernels;
    const B = this.bytes;
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
      const X = this.actAt[l];
      const Wl = w + B * weights;
      const dW = gAt + B * weights;
      if (this.products.weightGrad[l]) k.tnSparse(inputs, outputs, rows, X, dZ.byteOffset, dW, false, this.workAt);
      else k.tn(inputs, outputs, rows, X, dZ.byteOffset, dW);
      k.colSums(rows, outputs, dZ.byteOffset, gAt + B * bias);
      if (l === 0) break; // no gradient with respect to the data
      if (this.products.inputGrad[l]) {
        k.transpose(inputs, outputs, Wl, this.transposedAt);
        k.nnSparse(rows, inputs, outputs, dZ.byteOffset, this.transposedAt, dA.byteOffset, false, this.workAt);
      } else k.nt(rows, inputs, outputs, dZ.byteOffset, Wl, dA.byteOffset);
      // Through layer l − 1's dropout and activation (see the top of this file), then
      // its batch norm.
      if (this.activation === 'relu') k.reluBackward(rows * inputs, X, dA.byteOffset, dA.byteOffset);
      else sigmoidGrad(dA, this.acts[l], rows * inputs);
      const norm = this.norms[l - 1];
      if (norm) {
        const below = this.layers[l - 1];
        k.batchNormBackward(
          rows,
          inputs,
          dA.byteOffset,
          norm.xcAt,
          w + B * below.gamma,
          norm.stdAt,
          gAt + B * below.gamma,
          gAt + B * below.beta,
          dA.byteOffset,
        );
      }
      [dZ, dA] = [dA, dZ];
    }
  }
}

/** Z ← 1/(1 + e^(−Z)), in place. */
function sigmoid(Z: Floats, count: number): void {
  for (let i = 0; i < count; i++) Z[i] = 1 / (1 + Math.exp(-Z[i]));
}

/** dA ← dA ⊙ A(1 − A), in place: the sigmoid's derivative from its output A. */
function sigmoidGrad(dA: Floats, A: Floats, count: number): void {
  for (let i = 0; i < count; i++) dA[i] *= A[i] * (1 - A[i]);
}

/** Softmax of each row, stable: the row maximum is subtracted before exponentiating. */
function softmax(Z: Floats, rows: number, n: number): void {
  for (let r = 0; r < rows; r++) {
    const row = r * n;
    let max = -Infinity;
    for (let j = 0; j < n; j++) if (Z[row + j] > max) max = Z[row + j];
    let sum = 0;
    for (let j = 0; j < n; j++) {
      const e = Math.exp(Z[row + j] - max);
      Z[row + j] = e;
      sum += e;
    }
    for (let j = 0; j < n; j++) Z[row + j] /= sum;
  }
}
