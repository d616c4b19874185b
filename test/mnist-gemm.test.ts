/**
 * The MNIST net's two implementations: the plain-JS products of the reference
 * network against a naive triple loop, and the network the problem runs (on the
 * WebAssembly kernels, whose own products test/kernels.test.ts checks) against that
 * reference network: the same loss and gradient to 1e-12 relative, on random
 * shapes with odd sizes, for every choice of sparse and dense products, with and
 * without batch norm and dropout (the same masks: the kernel draws the stream the
 * reference draws with rng's next()), through two training passes (running averages
 * and masks carried) and a test pass.
 */
import { describe, expect, it } from 'vitest';
import { Arena, arenaBytes } from '../src/arena.js';
import { jsGemm, type GemmKernels } from '../src/problems/mnist/gemm.js';
import {
  Mlp,
  defaultProducts,
  denseProducts,
  layout,
  networkBytes,
  scratchLengths,
  sparseWorkBytes,
  type Activation,
  type Products,
  type Shape,
} from '../src/problems/mnist/network.js';
import { ReferenceMlp } from '../src/problems/mnist/reference.js';
import { rng, streamState, type Rng } from '../src/rng.js';

const KERNELS: [string, GemmKernels][] = [['js', jsGemm]];

/** ‖a − b‖∞ / ‖b‖∞ over a span (the difference itself when b is 0 there). */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>, start: number, end: number): number {
  let diff = 0;
  let scale = 0;
  for (let i = start; i < end; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

/** A matrix with the given fraction of exact zeros, at `offset` inside a larger array. */
function matrix(rows: number, cols: number, offset: number, zeros: number, label: string): Float64Array {
  const r = rng(1, label);
  const M = new Float64Array(offset + rows * cols + 3).fill(NaN);
  for (let i = 0; i < rows * cols; i++) M[offset + i] = r.next() < zeros ? 0 : r.normal();
  return M;
}

/** Element (i, j) of a row-major rows×cols matrix at `offset`, optionally transposed. */
function at(M: Float64Array, offset: number, cols: number, i: number, j: number, transposed: boolean): number {
  return transposed ? M[offset + j * cols + i] : M[offset + i * cols + j];
}

// (m, k, n) with remainders against the four-way unrolling, and degenerate sizes.
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 7, 5],
  [8, 13, 6],
  [17, 33, 10],
  [4, 0, 3],
];

describe.each(KERNELS)('%s kernels', (_name, kernels) => {
  for (const [op, ta, tb] of [
    ['gemm', false, false],
    ['gemmTN', true, false],
    ['gemmNT', false, true],
  ] as const) {
    it.each(SHAPES)(`${op} matches the naive product, m=%i k=%i n=%i`, (m, k, n) => {
      for (const zeros of [0, 0.7]) {
        const aOff = 5;
        const bOff = 2;
        const cOff = 3;
        // Stored shapes: op(A) is m×k, op(B) is k×n.
        const A = matrix(m, k, aOff, zeros, `A${op}${m}`);
        const B = matrix(k, n, bOff, 0, `B${op}${n}`);
        const C = new Float64Array(cOff + m * n + 4).fill(7);
        kernels[op](A, aOff, B, bOff, C, cOff, m, k, n);
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let p = 0; p < k; p++) s += at(A, aOff, ta ? m : k, i, p, ta) * at(B, bOff, tb ? k : n, p, j, tb);
            expect(C[cOff + i * n + j]).toBeCloseTo(s, 12);
          }
        // Nothing outside C is touched.
        expect(C.subarray(0, cOff).every((v) => v === 7)).toBe(true);
        expect(C.subarray(cOff + m * n).every((v) => v === 7)).toBe(true);
      }
    });
  }
});

describe('the kernel network equals the plain-JS reference network', () => {
  /** Every product that can skip zeros does (the output layer's too). */
  const allSparse = (layers: number): Products => {
    const all = new Array<boolean>(layers).fill(true);
    return { forward: all, weightGrad: all, inputGrad: all.map((_, l) => l > 0) };
  };
  const PRODUCTS: [string, (layers: number, activation: Activation) => Products][] = [
    ['default', defaultProducts],
    ['dense', (layers) => denseProducts(layers)],
    ['all sparse', (layers) => allSparse(layers)],
  ];

  /** Layer widths, input first, with odd sizes (against the kernels' SIMD widths and
   * unrolling), from 0 to 3 hidden layers, and how many rows. */
  function randomShape(r: Rng): { sizes: number[]; rows: number } {
    const width = () => 1 + r.int(r.next() < 0.3 ? 9 : 70);
    const sizes = [width() + 20, ...Array.from({ length: r.int(4) }, width), 2 + r.int(11)];
    return { sizes, rows: 1 + r.int(40) };
  }

  /**
   * Batch norm's backward pass subtracts nearly equal terms (dx = dxc − mean(dxc)),
   * so the rounding differences of the products upstream (the kernels sum in another
   * order) come out amplified in the gradients below it: measured up to 2e-12 here,
   * so 1e-10 for those variants (a wrong formula is off by O(1)). With one or two
   * rows a batch-normalised output hardly depends on its input at all (±1 up to ε)
   * and the amplification is unbounded, so those variants take at least 4 rows
   * (test/kernels.test.ts checks the kernels themselves down to one row).
   */
  const BATCH_NORM_TOLERANCE = 1e-10;
  const BATCH_NORM_ROWS = 4;

  /** The variants: plain, batch norm, dropout, both. */
  const VARIANTS = [
    { batchNorm: false, dropout: 0 },
    { batchNorm: true, dropout: 0 },
    { batchNorm: false, dropout: 0.3 },
    { batchNorm: true, dropout: 0.3 },
  ];

  const cases = Array.from({ length: 24 }, (_, i) => i);
  it.each(cases)(
    'random shape %i: loss, gradient and both passes, every product choice, relu and sigmoid, batch norm and dropout',
    (i) => {
      const r = rng(i, 'network-vs-reference');
      const { sizes, rows: rows0 } = randomShape(r);
      const classes = sizes[sizes.length - 1];
      const capacity = Math.max(rows0 + r.int(5), BATCH_NORM_ROWS);
      // Inputs with about 80% exact zeros, like MNIST pixels; labels in range.
      const X = Float64Array.from({ length: capacity * sizes[0] }, () => (r.next() < 0.8 ? 0 : r.next()));
      const labels = Uint8Array.from({ length: capacity }, () => r.int(classes));
      for (const { batchNorm, dropout } of VARIANTS)
        for (const activation of ['relu', 'sigmoid'] as const) {
          const rows = batchNorm ? Math.max(rows0, BATCH_NORM_ROWS) : rows0;
          const tolerance = batchNorm ? BATCH_NORM_TOLERANCE : 1e-12;
          const { dim, layers } = layout(sizes, batchNorm);
          const reference = new ReferenceMlp(sizes, activation, capacity, rows, { batchNorm, dropout });
          for (const [name, products] of PRODUCTS) {
            const shape: Shape = {
              sizes,
              capacity,
              backwardRows: rows,
              products: products(layers.length, activation),
              batchNorm,
              dropout,
            };
            const arena = Arena.create(arenaBytes(dim, dim, ...scratchLengths(shape, sparseWorkBytes)));
            const W = arena.f64(dim);
            const g = arena.f64(dim);
            const net = new Mlp(shape, activation, arena);
            // Biases, γ and β random too; a sizeable std so that ReLUs cut and softmax is not flat.
            for (let j = 0; j < dim; j++) W[j] = 0.5 * r.normal();
            net.input.set(X);
            net.targets.set(labels);
            reference.input.set(X);
            reference.targets.set(labels);
            net.reset(streamState(i, 'dropout'));
            reference.reset(rng(i, 'dropout'));
            const where = `sizes ${sizes.join('-')}, ${rows} rows, ${activation}, ${name}, batch norm ${batchNorm}, dropout ${dropout}`;
            // Two training passes (the second with new masks, the running averages
            // updated twice), then the test pass over the whole capacity.
            for (const pass of [1, 2]) {
              g.fill(NaN); // every element must be written
              const gRef = new Float64Array(dim);
              const lossRef = reference.lossAndGrad(W, gRef, rows);
              const loss = net.lossAndGrad(W, g, rows);
              expect(Math.abs(loss - lossRef) / lossRef, `${where}, pass ${pass}`).toBeLessThan(tolerance);
              for (const [l, { weights, bias, outputs, gamma, beta }] of layers.entries()) {
                const at = `${where}, pass ${pass}, layer ${l + 1}`;
                expect(relativeError(g, gRef, weights, bias), `${at}: dW`).toBeLessThan(tolerance);
                // Under batch norm db is rounding noise around 0 (b cancels against μ).
                if (gamma < 0)
                  expect(relativeError(g, gRef, bias, bias + outputs), `${at}: db`).toBeLessThan(tolerance);
                else {
                  for (let j = bias; j < bias + outputs; j++)
                    expect(Math.abs(g[j]), `${at}: db`).toBeLessThan(tolerance);
                  expect(relativeError(g, gRef, gamma, gamma + outputs), `${at}: dγ`).toBeLessThan(tolerance);
                  expect(relativeError(g, gRef, beta, beta + outputs), `${at}: dβ`).toBeLessThan(tolerance);
                  const [mine, theirs] = [net.running(l), reference.running(l)];
                  expect(relativeError(mine.mean, theirs.mean, 0, outputs), `${at}: mean`).toBeLessThan(tolerance);
                  expect(relativeError(mine.variance, theirs.variance, 0, outputs), `${at}: var`).toBeLessThan(
                    tolerance,
                  );
                }
              }
            }
            // The test pass alone, over the whole capacity (as evaluation runs it).
            net.forward(W, capacity);
            reference.forward(W, capacity);
            expect(
              Math.abs(net.lossSum(capacity) - reference.lossSum(capacity)) / reference.lossSum(capacity),
              where,
            ).toBeLessThan(tolerance);
            expect(net.correct(capacity), where).toBe(reference.correct(capacity));
          }
        }
    },
  );

  it('both compute the loss and the accuracy of known probabilities: uniform ones, every class tied (the first wins)', () => {
    const sizes = [30, 7, 10];
    const rows = 25;
    const { dim, layers } = layout(sizes);
    const shape: Shape = {
      sizes,
      capacity: rows,
      backwardRows: rows,
      products: defaultProducts(layers.length, 'relu'),
    };
    const arena = Arena.create(arenaBytes(dim, dim, ...scratchLengths(shape, sparseWorkBytes)));
    const W = arena.f64(dim).fill(0); // every logit 0: P = 1/10 in every row
    const nets = [new Mlp(shape, 'relu', arena), new ReferenceMlp(sizes, 'relu', rows, rows)];
    const r = rng(2, 'uniform-probabilities');
    const labels = Uint8Array.from({ length: rows }, () => r.int(3)); // many 0s
    for (const net of nets) {
      net.input.fill(0.5);
      net.targets.set(labels);
      net.forward(W, rows);
      expect(net.lossSum(rows) / rows).toBeCloseTo(-Math.log(0.1 + 1e-7), 14);
      expect(net.correct(rows)).toBe(labels.filter((t) => t === 0).length);
    }
  });

  it.each([
    { batchNorm: false, dropout: 0 },
    { batchNorm: true, dropout: 0.2 },
  ])('sees the default net at batch 128 on real-looking data the same way, %j', ({ batchNorm, dropout }) => {
    const r = rng(1, 'book-net');
    const sizes = [784, 100, 100, 100, 100, 10];
    const rows = 128;
    const { dim, layers } = layout(sizes, batchNorm);
    const shape: Shape = {
      sizes,
      capacity: rows,
      backwardRows: rows,
      products: defaultProducts(layers.length, 'relu', batchNorm),
      batchNorm,
      dropout,
    };
    const arena = Arena.create(arenaBytes(dim, dim, ...scratchLengths(shape, sparseWorkBytes)));
    const W = arena.f64(dim);
    const g = arena.f64(dim);
    const net = new Mlp(shape, 'relu', arena);
    const reference = new ReferenceMlp(sizes, 'relu', rows, rows, { batchNorm, dropout });
    net.reset(streamState(1, 'dropout'));
    reference.reset(rng(1, 'dropout'));
    for (const { inputs, weights, bias, outputs, gamma, beta } of layers) {
      for (let j = weights; j < bias; j++) W[j] = Math.sqrt(2 / inputs) * r.normal();
      for (let j = bias; j < bias + outputs; j++) W[j] = 0.01 * r.normal();
      if (gamma >= 0) for (let j = gamma; j < beta + outputs; j++) W[j] = (j < beta ? 1 : 0) + 0.1 * r.normal();
    }
    for (let j = 0; j < rows * 784; j++) net.input[j] = reference.input[j] = r.next() < 0.8 ? 0 : r.next();
    for (let j = 0; j < rows; j++) net.targets[j] = reference.targets[j] = r.int(10);
    const gRef = new Float64Array(dim);
    const lossRef = reference.lossAndGrad(W, gRef, rows);
    const tolerance = batchNorm ? BATCH_NORM_TOLERANCE : 1e-12;
    expect(Math.abs(net.lossAndGrad(W, g, rows) - lossRef) / lossRef).toBeLessThan(1e-12);
    for (const { weights, bias, outputs, gamma } of layers) {
      expect(relativeError(g, gRef, weights, bias)).toBeLessThan(tolerance);
      if (gamma < 0) expect(relativeError(g, gRef, bias, bias + outputs)).toBeLessThan(1e-12);
      else expect(relativeError(g, gRef, gamma, gamma + 2 * outputs)).toBeLessThan(tolerance);
    }
    net.forward(W, rows);
    reference.forward(W, rows);
    expect(Math.abs(net.lossSum(rows) - reference.lossSum(rows)) / reference.lossSum(rows)).toBeLessThan(1e-12);
  });
});

/**
 * float32 against float64: the same network on the f32x4 kernels (its parameters
 * the float64 ones rounded to float32, its gradient float32) gives the
 * float64 network's loss to 1e-5 relative and its gradients to 1e-4 (float32 keeps
 * about 7 digits, sums of many terms a few less: measured up to 5e-7 and 1.1e-5
 * here). Batch norm's backward pass amplifies rounding, as in float64 (above): its
 * gradients to 2e-3 (measured up to 2.5e-4). The same masks in both: the dropout
 * kernels draw the same stream.
 */
describe('the float32 network equals the float64 network to float32 precision', () => {
  it.each(Array.from({ length: 12 }, (_, i) => i))(
    'random shape %i: loss, gradient and test pass, relu and sigmoid, batch norm and dropout',
    (i) => {
      const r = rng(i, 'f32-vs-f64');
      const classes = 2 + r.int(11);
      const sizes = [21 + r.int(70), ...Array.from({ length: 1 + r.int(3) }, () => 1 + r.int(70)), classes];
      const rows = 4 + r.int(40);
      // Pixels are float32 already, as the MNIST images are.
      const X = Float64Array.from({ length: rows * sizes[0] }, () => (r.next() < 0.8 ? 0 : Math.fround(r.next())));
      const labels = Uint8Array.from({ length: rows }, () => r.int(classes));
      for (const batchNorm of [false, true])
        for (const dropout of [0, 0.3])
          for (const activation of ['relu', 'sigmoid'] as const) {
            const { dim, layers } = layout(sizes, batchNorm);
            const W0 = Float64Array.from({ length: dim }, () => 0.5 * r.normal());
            const [f64, f32] = (['f64', 'f32'] as const).map((precision) => {
              const shape: Shape = {
                sizes,
                capacity: rows,
                backwardRows: rows,
                products: defaultProducts(layers.length, activation, batchNorm),
                batchNorm,
                dropout,
                precision,
              };
              const arena = Arena.create(arenaBytes(dim, dim) + networkBytes(shape));
              const take = (n: number) => (precision === 'f32' ? arena.f32(n) : arena.f64(n));
              const [W, g] = [take(dim), take(dim).fill(NaN)];
              const net = new Mlp(shape, activation, arena);
              W.set(W0);
              net.input.set(X);
              net.targets.set(labels);
              net.reset(streamState(i, 'dropout'));
              const loss = net.lossAndGrad(W, g, rows);
              net.forward(W, rows);
              return { loss, g, test: net.lossSum(rows), W };
            });
            const where = `sizes ${sizes.join('-')}, ${rows} rows, ${activation}, batch norm ${batchNorm}, dropout ${dropout}`;
            expect(f32.W, 'W is left as it was').toEqual(Float32Array.from(W0));
            expect(Math.abs(f32.loss - f64.loss) / f64.loss, where).toBeLessThan(1e-5);
            expect(Math.abs(f32.test - f64.test) / f64.test, where).toBeLessThan(1e-5);
            const tolerance = batchNorm ? 2e-3 : 1e-4;
            for (const [l, { weights, bias, outputs, gamma, beta }] of layers.entries()) {
              expect(relativeError(f32.g, f64.g, weights, bias), `${where}: dW${l + 1}`).toBeLessThan(tolerance);
              if (gamma < 0)
                expect(relativeError(f32.g, f64.g, bias, bias + outputs), `${where}: db`).toBeLessThan(1e-4);
              else
                expect(relativeError(f32.g, f64.g, gamma, beta + outputs), `${where}: dγ, dβ`).toBeLessThan(tolerance);
            }
          }
    },
  );
});
