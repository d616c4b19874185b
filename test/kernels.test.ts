/**
 * The WebAssembly kernels against plain references: the optimizer kernels bit for bit
 * against the JS optimizers (over several steps, so state carries), the dense kernels
 * against a float64 triple loop, on random shapes with odd sizes and lengths that are
 * not multiples of the vector width; then the memory contract (views, heap base) and
 * several threads running the kernels on one memory at once.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  KERNEL_HEAP_BASE,
  WASM_PAGE_BYTES,
  createSharedMemory,
  dropoutThreshold,
  gemmKernels,
  optimizerKernel,
  type KernelMemory,
  type Precision,
} from '../src/kernels/index.js';
import { adamStepSize } from '../src/optimizers/adam.js';
import {
  OPTIMIZERS,
  OPTIMIZER_NAMES,
  defaultHyper,
  type Hyper,
  type OptState,
  type OptimizerName,
  type Params,
} from '../src/optimizers/index.js';
import { ROOT } from '../src/paths.js';
import { rng, streamState, type Rng } from '../src/rng.js';

/** Lengths around the f64x2 width and the kernels' unrolling, plus a long one. */
const LENGTHS = [0, 1, 2, 3, 4, 5, 7, 8, 9, 33, 127, 1000];
const STEPS = 6;
const SIMD_BYTES = 16;
/** The maximum of the memories that `arena` grows. */
const GROWABLE = 256 << 20;

/** A bump allocator over a memory, from the heap base up. `skew` bytes are added to
 * each array's start, so arrays are not always 16-byte aligned. */
function arena(memory: KernelMemory) {
  let top = KERNEL_HEAP_BASE;
  const take = (bytes: number, skew: number) => {
    const start = Math.ceil(top / SIMD_BYTES) * SIMD_BYTES + skew;
    if (start + bytes > memory.buffer.byteLength)
      memory.grow(Math.ceil((start + bytes - memory.buffer.byteLength) / WASM_PAGE_BYTES));
    top = start + bytes;
    return start;
  };
  return {
    f64: (n: number, skew = 0) => new Float64Array(memory.buffer, take(n * 8, skew), n),
    f32: (n: number, skew = 0) => new Float32Array(memory.buffer, take(n * 4, skew), n),
    reset: () => (top = KERNEL_HEAP_BASE),
  };
}

/** Index of the first element that differs (Object.is: so 0 ≠ −0, NaN = NaN), −1 if none. */
function firstBitDifference(a: Params, b: Params): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/** Gradients of mixed magnitudes, with exact zeros and signed zeros among them. */
function gradient(r: Rng, n: number): Float64Array {
  const g = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = r.next();
    g[i] = u < 0.05 ? 0 : u < 0.08 ? -0 : r.normal() * 10 ** (r.int(13) - 6);
  }
  return g;
}

/** Hyperparameters: the book's defaults, then random ones in each valid range. */
function hypers(name: (typeof OPTIMIZER_NAMES)[number], r: Rng): Hyper[] {
  return [
    defaultHyper(name),
    {
      lr: 10 ** (-4 * r.next()),
      momentum: r.next(),
      rho: r.next(),
      beta1: r.next(),
      beta2: r.next(),
      eps: 10 ** (-10 * r.next()),
    },
  ];
}

/** Two steps of every optimizer's kernel in `precision` from W = `special`, g = the
 * same reversed, against `reference`'s: the same bits in W and in the state. */
function specialValuesAgree(
  memory: KernelMemory,
  precision: Precision,
  special: number[],
  reference: (name: OptimizerName) => (W: Params, g: Params, s: OptState, h: Hyper) => void,
): void {
  const heap = arena(memory);
  const n = special.length;
  const take = (k: number) => (precision === 'f32' ? heap.f32(k) : heap.f64(k));
  const plain = (k: number) => (precision === 'f32' ? new Float32Array(k) : new Float64Array(k));
  for (const name of OPTIMIZER_NAMES) {
    heap.reset();
    const W = take(n);
    const g = take(n);
    W.set(special);
    g.set([...special].reverse());
    const s: OptState = { arrays: OPTIMIZERS[name].state.map(() => take(n).fill(0)), count: 0 };
    const WJs = W.slice();
    const sJs: OptState = { arrays: OPTIMIZERS[name].state.map(() => plain(n)), count: 0 };
    for (let t = 0; t < 2; t++) {
      optimizerKernel(name, memory, precision)(W, g, s, defaultHyper(name));
      reference(name)(WJs, g.slice(), sJs, defaultHyper(name));
    }
    expect(firstBitDifference(W, WJs), name).toBe(-1);
    for (const [i, a] of s.arrays.entries()) expect(firstBitDifference(a, sJs.arrays[i]), name).toBe(-1);
  }
}

describe('optimizer kernels equal the JS optimizers bit for bit', () => {
  const memory = createSharedMemory(1 << 20, GROWABLE);
  const heap = arena(memory);
  for (const name of OPTIMIZER_NAMES) {
    it.each(LENGTHS)(`${name}, length %i, ${STEPS} steps`, (n) => {
      const r = rng(n, `kernel-${name}`);
      const update = optimizerKernel(name, memory);
      const reference = OPTIMIZERS[name];
      for (const [which, h] of hypers(name, r).entries()) {
        heap.reset();
        const skew = 8 * ((n + which) % 2);
        const W = heap.f64(n, skew);
        for (let i = 0; i < n; i++) W[i] = r.normal();
        const sKernel: OptState = { arrays: reference.state.map((_, i) => heap.f64(n, 8 * (i % 2)).fill(0)), count: 0 };
        const sJs: OptState = { arrays: reference.state.map(() => new Float64Array(n)), count: 0 };
        const WJs = W.slice();
        const g = heap.f64(n, 8 - skew);
        for (let t = 0; t < STEPS; t++) {
          g.set(gradient(r, n));
          update(W, g, sKernel, h);
          reference.update(WJs, g.slice(), sJs, h);
          expect(sKernel.count).toBe(sJs.count);
          expect(firstBitDifference(W, WJs), `W after step ${t + 1}`).toBe(-1);
          expect(W).toEqual(WJs);
          for (const [i, stateName] of reference.state.entries()) {
            expect(firstBitDifference(sKernel.arrays[i], sJs.arrays[i]), `${stateName} after step ${t + 1}`).toBe(-1);
            expect(sKernel.arrays[i]).toEqual(sJs.arrays[i]);
          }
        }
      }
    });
  }

  it('carries NaN and ±Infinity the way the JS loops do', () =>
    specialValuesAgree(memory, 'f64', [NaN, Infinity, -Infinity, 0, -0, 1e308, -1e308, 5e-324, 1], (name) =>
      OPTIMIZERS[name].update.bind(OPTIMIZERS[name]),
    ));
});

/** The JS optimizers in float32: each operation of the float64 loop rounded to float32
 * (Math.fround; rounding a float64 result of float32 operands gives the float32
 * operation's result for + − × ÷ √), the scalars derived in float64 and rounded once,
 * as they cross into the float32 kernel. The state's `count` as the kernels keep it. */
const f = Math.fround;
const REFERENCE32: Record<OptimizerName, (W: Params, g: Params, s: OptState, h: Hyper) => void> = {
  sgd(W, g, s, { lr }) {
    const lr32 = f(lr);
    for (let i = 0; i < W.length; i++) W[i] = f(W[i] - f(lr32 * g[i]));
    s.count++;
  },
  momentum(W, g, s, { lr, momentum }) {
    const [v] = s.arrays;
    const [lr32, alpha] = [f(lr), f(momentum)];
    for (let i = 0; i < W.length; i++) {
      const vi = f(f(alpha * v[i]) - f(lr32 * g[i]));
      v[i] = vi;
      W[i] = f(W[i] + vi);
    }
    s.count++;
  },
  nesterov(W, g, s, { lr, momentum }) {
    const [v] = s.arrays;
    const [lr32, alpha, a2, c] = [f(lr), f(momentum), f(momentum * momentum), f((1 + momentum) * lr)];
    for (let i = 0; i < W.length; i++) {
      const vi = v[i];
      W[i] = f(W[i] + f(f(a2 * vi) - f(c * g[i])));
      v[i] = f(f(alpha * vi) - f(lr32 * g[i]));
    }
    s.count++;
  },
  adagrad(W, g, s, { lr, eps }) {
    const [h] = s.arrays;
    const [lr32, eps32] = [f(lr), f(eps)];
    for (let i = 0; i < W.length; i++) {
      const hi = f(h[i] + f(g[i] * g[i]));
      h[i] = hi;
      W[i] = f(W[i] - f(f(lr32 * g[i]) / f(f(Math.sqrt(hi)) + eps32)));
    }
    s.count++;
  },
  rmsprop(W, g, s, { lr, rho, eps }) {
    const [h] = s.arrays;
    const [lr32, rho32, omr, eps32] = [f(lr), f(rho), f(1 - rho), f(eps)];
    for (let i = 0; i < W.length; i++) {
      const hi = f(f(rho32 * h[i]) + f(f(omr * g[i]) * g[i]));
      h[i] = hi;
      W[i] = f(W[i] - f(f(lr32 * g[i]) / f(f(Math.sqrt(hi)) + eps32)));
    }
    s.count++;
  },
  adam(W, g, s, { lr, beta1, beta2, eps }) {
    const [m, v] = s.arrays;
    const t = ++s.count;
    const [lrT, a, b, eps32] = [f(adamStepSize(lr, beta1, beta2, t)), f(1 - beta1), f(1 - beta2), f(eps)];
    for (let i = 0; i < W.length; i++) {
      const gi = g[i];
      const mi = f(m[i] + f(a * f(gi - m[i])));
      const vi = f(v[i] + f(b * f(f(gi * gi) - v[i])));
      m[i] = mi;
      v[i] = vi;
      W[i] = f(W[i] - f(f(lrT * mi) / f(f(Math.sqrt(vi)) + eps32)));
    }
  },
};

describe('float32 optimizer kernels (f32x4) equal the JS loops rounded to float32 at every operation', () => {
  const memory = createSharedMemory(1 << 20, GROWABLE);
  const heap = arena(memory);
  for (const name of OPTIMIZER_NAMES) {
    it.each(LENGTHS)(`${name}, length %i, ${STEPS} steps`, (n) => {
      const r = rng(n, `kernel32-${name}`);
      const update = optimizerKernel(name, memory, 'f32');
      const reference = REFERENCE32[name];
      const stateNames = OPTIMIZERS[name].state;
      for (const [which, h] of hypers(name, r).entries()) {
        heap.reset();
        const skew = 4 * ((n + which) % 4); // every alignment of a float32 in a vector
        const W = heap.f32(n, skew);
        for (let i = 0; i < n; i++) W[i] = r.normal();
        const sKernel: OptState = { arrays: stateNames.map((_, i) => heap.f32(n, 4 * (i % 4)).fill(0)), count: 0 };
        const sJs: OptState = { arrays: stateNames.map(() => new Float32Array(n)), count: 0 };
        const WJs = W.slice();
        const g = heap.f32(n, 12 - skew);
        for (let t = 0; t < STEPS; t++) {
          g.set(gradient(r, n));
          update(W, g, sKernel, h);
          reference(WJs, g.slice(), sJs, h);
          expect(sKernel.count).toBe(sJs.count);
          expect(firstBitDifference(W, WJs), `W after step ${t + 1}`).toBe(-1);
          for (const [i, stateName] of stateNames.entries())
            expect(firstBitDifference(sKernel.arrays[i], sJs.arrays[i]), `${stateName} after step ${t + 1}`).toBe(-1);
        }
      }
    });
  }

  it('stay within float32 rounding of the float64 update over one step', () => {
    const n = 1000;
    for (const name of OPTIMIZER_NAMES) {
      heap.reset();
      const r = rng(7, `kernel32-vs-64-${name}`);
      const W = heap.f32(n);
      for (let i = 0; i < n; i++) W[i] = r.normal();
      const g = heap.f32(n);
      for (let i = 0; i < n; i++) g[i] = r.normal() * 0.1;
      const W64 = Float64Array.from(W);
      const s32: OptState = { arrays: OPTIMIZERS[name].state.map(() => heap.f32(n).fill(0)), count: 0 };
      const s64: OptState = { arrays: OPTIMIZERS[name].state.map(() => new Float64Array(n)), count: 0 };
      optimizerKernel(name, memory, 'f32')(W, g, s32, defaultHyper(name));
      OPTIMIZERS[name].update(W64, Float64Array.from(g), s64, defaultHyper(name));
      for (let i = 0; i < n; i++)
        expect(Math.abs(W[i] - W64[i]), `${name} W[${i}]`).toBeLessThan(1e-6 * (1 + Math.abs(W64[i])));
    }
  });

  it('carry NaN and ±Infinity as the float32 loops do', () =>
    specialValuesAgree(
      memory,
      'f32',
      [NaN, Infinity, -Infinity, 0, -0, 3e38, -3e38, 1e-45, 1],
      (name) => REFERENCE32[name],
    ));

  it('take arrays of their precision only, naming the one that is not', () => {
    heap.reset();
    const state = { arrays: [heap.f32(4), heap.f32(4)], count: 0 };
    expect(() => optimizerKernel('adam', memory, 'f32')(heap.f64(4), heap.f32(4), state, defaultHyper('adam'))).toThrow(
      /W must be a Float32Array/,
    );
    expect(() =>
      optimizerKernel('sgd', memory)(heap.f32(4), heap.f32(4), { arrays: [], count: 0 }, defaultHyper('sgd')),
    ).toThrow(/W must be a Float64Array/);
    expect(() => optimizerKernel('sgd', memory, 'f16' as 'f32')).toThrow(/precision must be 'f32' or 'f64', got f16/);
  });
});

describe('optimizer kernels check their arguments', () => {
  const memory = createSharedMemory(1 << 16, GROWABLE);
  const heap = arena(memory);
  const update = optimizerKernel('adam', memory);
  const h = defaultHyper('adam');
  const state = (n: number): OptState => ({ arrays: [heap.f64(n), heap.f64(n)], count: 0 });

  it('rejects a view over another buffer', () => {
    heap.reset();
    expect(() => update(new Float64Array(4), heap.f64(4), state(4), h)).toThrow(
      /W is not a view over the kernels' WebAssembly.Memory/,
    );
    const other = createSharedMemory(64);
    expect(() => update(heap.f64(4), new Float64Array(other.buffer, KERNEL_HEAP_BASE, 4), state(4), h)).toThrow(
      /g is not a view/,
    );
  });

  it('rejects arrays below the heap base, of different lengths, or overlapping', () => {
    heap.reset();
    const low = new Float64Array(memory.buffer, 0, 4);
    expect(() => update(low, heap.f64(4), state(4), h)).toThrow(/reserved \[0, 65536\)/);
    expect(() => update(heap.f64(4), heap.f64(5), state(4), h)).toThrow(/g has 5 elements, W has 4/);
    const W = heap.f64(4);
    expect(() => update(W, heap.f64(4), { arrays: [W, heap.f64(4)], count: 0 }, h)).toThrow(/W and m overlap/);
    expect(() => update(heap.f64(4), heap.f64(4), { arrays: [heap.f64(4)], count: 0 }, h)).toThrow(
      /expected 2 state arrays/,
    );
    expect(() => optimizerKernel('lion' as 'adam', memory)).toThrow(/no kernel for optimizer "lion"/);
  });

  it('accepts views made before the memory grew', () => {
    const grown = createSharedMemory(64, GROWABLE);
    const own = arena(grown);
    const W = own.f64(3);
    const g = own.f64(3);
    const sgd = optimizerKernel('sgd', grown);
    grown.grow(1);
    g.fill(1);
    sgd(W, g, { arrays: [], count: 0 }, defaultHyper('sgd'));
    expect([...W]).toEqual([-0.01, -0.01, -0.01]);
  });

  it('rejects a memory that is not shared', () => {
    const plain = new (
      globalThis as unknown as { WebAssembly: { Memory: new (d: object) => KernelMemory } }
    ).WebAssembly.Memory({
      initial: 2,
    });
    expect(() => optimizerKernel('sgd', plain)).toThrow(/must be shared/);
  });
});

describe('createSharedMemory', () => {
  it('makes a shared memory with the requested bytes above the heap base', () => {
    const memory = createSharedMemory(100_000);
    expect(memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(KERNEL_HEAP_BASE + 100_000);
    expect(memory.buffer.byteLength % WASM_PAGE_BYTES).toBe(0);
    // By default it reserves what it holds, no more: it cannot grow.
    expect(() => memory.grow(1)).toThrow(RangeError);
    const growable = createSharedMemory(100_000, 1 << 20);
    growable.grow(2);
    expect(growable.buffer.byteLength).toBe(memory.buffer.byteLength + 2 * WASM_PAGE_BYTES);
    expect(() => createSharedMemory(-1)).toThrow(/non-negative integer/);
    expect(() => createSharedMemory(1 << 20, 1 << 16)).toThrow(/maximumBytes/);
  });
});

// ---- dense kernels ----

type Op = 'nn' | 'tn' | 'nt';

/**
 * The triple loop, reading op(A)(i, k) and op(B)(k, j) as each kernel does: C in
 * float64, `scale` = Σ_k |a·b| (for a relative tolerance), and `naive`, the same loop
 * in the kernels' precision (`round` after every operation), starting from C0.
 */
function reference(
  op: Op,
  M: number,
  N: number,
  K: number,
  A: ArrayLike<number>,
  B: ArrayLike<number>,
  round: (x: number) => number = (x) => x,
  C0?: ArrayLike<number>,
) {
  const a = op === 'tn' ? (i: number, k: number) => A[k * M + i] : (i: number, k: number) => A[i * K + k];
  const b = op === 'nt' ? (k: number, j: number) => B[j * K + k] : (k: number, j: number) => B[k * N + j];
  const C = new Float64Array(M * N);
  const scale = new Float64Array(M * N);
  const naive = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      let sAbs = 0;
      let sRounded = C0 ? C0[i * N + j] : 0;
      for (let k = 0; k < K; k++) {
        const p = a(i, k) * b(k, j);
        s += p;
        sAbs += Math.abs(p);
        sRounded = round(sRounded + round(p));
      }
      C[i * N + j] = s;
      scale[i * N + j] = sAbs;
      naive[i * N + j] = sRounded;
    }
  return { C, scale, naive };
}

/** Relative tolerance against the float64 reference, scaled by Σ|a·b|. */
const TOLERANCE: Record<Precision, number> = { f32: 1e-4, f64: 1e-12 };
/** Values around each output that a kernel must leave alone. */
const GUARD = 5;
const SENTINEL = 12345.5;

/** M × N of the elementwise and per-column kernels: one element, odd sizes around the
 * vector widths, and a layer of the book's net. */
const ELEMENTWISE_SHAPES: [number, number][] = [
  [1, 1],
  [3, 7],
  [128, 100],
  [5, 10],
  [2, 33],
];

// Odd sizes around the tile shapes (f32 tiles are 4 × 8, f64 4 × 4; NT groups of 4 or 2).
const ODD = [1, 2, 3, 4, 5, 7, 8, 9, 13, 33];
const MLP_SHAPES: [Op, number, number, number][] = [
  ['nn', 128, 100, 784],
  ['nn', 128, 100, 100],
  ['nn', 128, 10, 100],
  ['tn', 784, 100, 128],
  ['tn', 100, 10, 128],
  ['nt', 128, 100, 100],
  ['nt', 128, 100, 10],
  ['nt', 127, 3, 7],
  ['nn', 127, 127, 300],
];

function randomShapes(r: Rng, count: number): [Op, number, number, number][] {
  const ops: Op[] = ['nn', 'tn', 'nt'];
  const pick = () => (r.next() < 0.7 ? ODD[r.int(ODD.length)] : 1 + r.int(140));
  return Array.from({ length: count }, (_, i) => [ops[i % 3], pick(), pick(), pick()] as [Op, number, number, number]);
}

describe.each(['f32', 'f64'] as const)('%s dense kernels', (precision) => {
  const memory = createSharedMemory(16 << 20);
  const heap = arena(memory);
  const kernels = gemmKernels(precision, memory);
  const alloc = (n: number, skew = 0) => (precision === 'f32' ? heap.f32(n, skew * 4) : heap.f64(n, skew * 8));
  /** Normal values, a fraction `zeros` of them exact zeros. */
  const fill = (x: Float32Array | Float64Array, r: Rng, zeros = 0) => {
    for (let i = 0; i < x.length; i++) x[i] = r.next() < zeros ? 0 : r.normal();
  };
  /** Rounds to the precision, as every result of a kernel is rounded. */
  const round = precision === 'f32' ? Math.fround : (x: number) => x;

  const shapes = [
    ...MLP_SHAPES,
    ...randomShapes(rng(7, `shapes-${precision}`), 60),
    ['nn', 5, 6, 0],
    ['nt', 3, 5, 0],
    ['tn', 0, 4, 3],
  ] as [Op, number, number, number][];

  /** Runs `op` (or its sparse form) on random inputs with guards around C and the
   * scratch, and checks it against the references. */
  function check(op: Op, M: number, N: number, K: number, sparse: boolean) {
    const r = rng(M * 1_000_000 + N * 1000 + K, `${precision}-${op}-${sparse}`);
    for (const accumulate of [false, true]) {
      heap.reset();
      const A = alloc(M * K, r.int(3));
      const B = alloc(K * N, r.int(3));
      const padded = alloc(M * N + 2 * GUARD, r.int(3));
      const workBytes = kernels.sparseWorkBytes(K);
      const work = heap.f64(Math.ceil(workBytes / 8) + GUARD);
      fill(A, r, sparse ? 0.7 : 0.05);
      fill(B, r);
      padded.fill(SENTINEL);
      work.fill(SENTINEL);
      const C = padded.subarray(GUARD, GUARD + M * N);
      const C0 = new Float64Array(M * N);
      if (accumulate) {
        fill(C, r);
        C0.set(C);
      }
      if (op === 'nt') kernels.nt(M, N, K, A.byteOffset, B.byteOffset, C.byteOffset, accumulate);
      else if (sparse)
        kernels[`${op}Sparse`](M, N, K, A.byteOffset, B.byteOffset, C.byteOffset, accumulate, work.byteOffset);
      else kernels[op](M, N, K, A.byteOffset, B.byteOffset, C.byteOffset, accumulate);
      const expected = reference(op, M, N, K, A, B, round, C0);
      let worst = 0;
      for (let i = 0; i < M * N; i++) {
        const want = C0[i] + expected.C[i];
        const err = Math.abs(C[i] - want) / (expected.scale[i] + Math.abs(C0[i]) || 1);
        worst = Math.max(worst, err);
      }
      expect(worst, `accumulate=${accumulate}`).toBeLessThan(TOLERANCE[precision]);
      // nn and tn add the products in k order: the naive loop, bit for bit.
      if (op !== 'nt')
        expect(firstBitDifference(Float64Array.from(C), expected.naive), `accumulate=${accumulate}`).toBe(-1);
      expect([...padded.subarray(0, GUARD), ...padded.subarray(GUARD + M * N)].every((v) => v === SENTINEL)).toBe(true);
      const workEnd = Math.ceil(workBytes / 8);
      expect(work.subarray(workEnd).every((v) => v === SENTINEL)).toBe(true);
    }
  }

  it.each(shapes)('%s M=%i N=%i K=%i matches the float64 triple loop', (op, M, N, K) => check(op, M, N, K, false));

  it.each(shapes.filter(([op]) => op !== 'nt'))('%sSparse M=%i N=%i K=%i matches the triple loop', (op, M, N, K) =>
    check(op, M, N, K, true),
  );

  it.each(ELEMENTWISE_SHAPES)('bias, ReLU, ReLU backward and column sums, M=%i N=%i', (M, N) => {
    const r = rng(M * 100 + N, `helpers-${precision}`);
    heap.reset();
    const b = alloc(N, 1);
    const Y = alloc(M * N + GUARD);
    fill(b, r);
    fill(Y, r);
    Y[0] = -0;
    if (M * N > 2) Y[1] = NaN;
    Y.fill(SENTINEL, M * N);
    const Y0 = Y.slice();
    const relu = (x: number) => (x > 0 ? x : x <= 0 ? 0 : x);

    kernels.biasAdd(M, N, b.byteOffset, Y.byteOffset);
    const added = Array.from(Y0.subarray(0, M * N), (y, i) => round(y + b[i % N]));
    expect([...Y.subarray(0, M * N)]).toEqual(added);

    Y.set(Y0);
    kernels.biasRelu(M, N, b.byteOffset, Y.byteOffset);
    expect([...Y.subarray(0, M * N)]).toEqual(added.map(relu));
    expect([...Y.subarray(M * N)].every((v) => v === SENTINEL)).toBe(true);

    const dY = alloc(M * N + GUARD, 1);
    fill(dY, r);
    dY.fill(SENTINEL, M * N);
    const dX = alloc(M * N + GUARD, 1);
    dX.fill(SENTINEL);
    kernels.reluBackward(M * N, Y.byteOffset, dY.byteOffset, dX.byteOffset);
    const masked = Array.from(dY.subarray(0, M * N), (d, i) => (Y[i] > 0 ? d : 0));
    expect([...dX.subarray(0, M * N)]).toEqual(masked);
    expect([...dX.subarray(M * N)].every((v) => v === SENTINEL)).toBe(true);
    kernels.reluBackward(M * N, Y.byteOffset, dY.byteOffset, dY.byteOffset);
    expect([...dY.subarray(0, M * N)]).toEqual(masked);

    const db = alloc(N + GUARD, 3);
    db.fill(SENTINEL);
    const sums = (start: number[]) =>
      start.map((s0, j) => {
        let s = s0;
        let sAbs = Math.abs(s0);
        for (let i = 0; i < M; i++) {
          s += dY[i * N + j];
          sAbs += Math.abs(dY[i * N + j]);
        }
        return { s, sAbs };
      });
    kernels.colSums(M, N, dY.byteOffset, db.byteOffset);
    for (const [j, { s, sAbs }] of sums(new Array(N).fill(0)).entries())
      expect(Math.abs(db[j] - s)).toBeLessThanOrEqual(TOLERANCE[precision] * sAbs);
    expect([...db.subarray(N)].every((v) => v === SENTINEL)).toBe(true);
    const before = [...db.subarray(0, N)];
    kernels.colSums(M, N, dY.byteOffset, db.byteOffset, true);
    for (const [j, { s, sAbs }] of sums(before).entries())
      expect(Math.abs(db[j] - s)).toBeLessThanOrEqual(TOLERANCE[precision] * sAbs);
  });

  it('the sparse forms skip 0·NaN, the dense ones keep it (documented difference)', () => {
    heap.reset();
    const [M, N, K] = [3, 5, 4];
    const A = alloc(M * K).fill(1);
    const B = alloc(K * N).fill(1);
    for (let i = 0; i < M; i++) A[i * K + 2] = 0;
    B[2 * N + 1] = NaN;
    const C = alloc(M * N);
    const work = heap.f64(Math.ceil(kernels.sparseWorkBytes(K) / 8));
    kernels.nn(M, N, K, A.byteOffset, B.byteOffset, C.byteOffset);
    expect(Number.isNaN(C[1])).toBe(true);
    kernels.nnSparse(M, N, K, A.byteOffset, B.byteOffset, C.byteOffset, false, work.byteOffset);
    expect(C[1]).toBe(3);
  });

  it.each([
    [1, 1],
    [4, 4],
    [3, 7],
    [8, 5],
    [100, 784],
    [33, 2],
  ])('transpose M=%i N=%i', (M, N) => {
    const r = rng(M * 1000 + N, `transpose-${precision}`);
    heap.reset();
    const A = alloc(M * N, 1);
    fill(A, r);
    const padded = alloc(M * N + 2 * GUARD, 2).fill(SENTINEL);
    const B = padded.subarray(GUARD, GUARD + M * N);
    kernels.transpose(M, N, A.byteOffset, B.byteOffset);
    const expected = new Float64Array(M * N);
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) expected[j * M + i] = A[i * N + j];
    expect(Float64Array.from(B)).toEqual(expected);
    expect([...padded.subarray(0, GUARD), ...padded.subarray(GUARD + M * N)].every((v) => v === SENTINEL)).toBe(true);
  });

  /**
   * Batch norm against the book's formulas written out per element, every operation
   * rounded to the precision (for float32 that is exact emulation: a double result
   * rounded to float32 is the correctly rounded float32 one for +, −, ×, ÷ and √).
   */
  it.each(ELEMENTWISE_SHAPES)(
    'batch norm (training, test and backward), bit for bit the per-element formulas, M=%i N=%i',
    (M, N) => {
      const r = rng(M * 100 + N, `batch-norm-${precision}`);
      heap.reset();
      const [Y, xc, dY] = [alloc(M * N + GUARD), alloc(M * N + GUARD, 1), alloc(M * N + GUARD, 2)];
      const [gamma, beta, std, mean, variance, dgamma, dbeta] = [1, 2, 3, 0, 1, 2, 3].map((skew) =>
        alloc(N + GUARD, skew),
      );
      fill(Y, r);
      for (let i = 0; i < M * N; i++) Y[i] = 3 * Y[i] + 2; // off-centre, not unit variance
      fill(gamma, r);
      fill(beta, r);
      fill(dY, r);
      for (let j = 0; j < N; j++) [mean[j], variance[j]] = [r.normal(), 1 + r.next()];
      for (const a of [Y, xc, dY, gamma, beta, std, mean, variance, dgamma, dbeta]) a.fill(SENTINEL, a.length - GUARD);
      const untouched = (a: Float32Array | Float64Array) => a.subarray(a.length - GUARD).every((v) => v === SENTINEL);
      const [Y0, mean0, variance0] = [Y.slice(), mean.slice(), variance.slice()];
      const [m, eps] = [round(0.9), round(1e-6)];
      const m1 = round(1 - m);

      // Training, with ReLU and without.
      for (const relu of [false, true]) {
        Y.set(Y0);
        mean.set(mean0);
        variance.set(variance0);
        kernels.batchNormTrain(
          M,
          N,
          Y.byteOffset,
          gamma.byteOffset,
          beta.byteOffset,
          xc.byteOffset,
          std.byteOffset,
          mean.byteOffset,
          variance.byteOffset,
          0.9,
          1e-6,
          relu,
        );
        for (let j = 0; j < N; j++) {
          let sum = 0;
          for (let i = 0; i < M; i++) sum = round(sum + Y0[i * N + j]);
          const mu = round(sum / M);
          let squares = 0;
          for (let i = 0; i < M; i++) {
            const d = round(Y0[i * N + j] - mu);
            expect(xc[i * N + j]).toBe(d);
            squares = round(squares + round(d * d));
          }
          const v = round(squares / M);
          const s = round(Math.sqrt(round(v + eps)));
          expect(std[j]).toBe(s);
          for (let i = 0; i < M; i++) {
            const out = round(round(gamma[j] * round(xc[i * N + j] / s)) + beta[j]);
            expect(Object.is(Y[i * N + j], relu && !(out > 0) ? 0 : out), `Y[${i}, ${j}]`).toBe(true);
          }
          expect(mean[j]).toBe(round(round(m * mean0[j]) + round(m1 * mu)));
          expect(variance[j]).toBe(round(round(m * variance0[j]) + round(m1 * v)));
        }
      }
      expect([Y, xc, std, mean, variance].every(untouched)).toBe(true);

      // The test pass, on the running averages.
      Y.set(Y0);
      kernels.batchNormTest(
        M,
        N,
        Y.byteOffset,
        gamma.byteOffset,
        beta.byteOffset,
        mean.byteOffset,
        variance.byteOffset,
        1e-6,
        false,
      );
      for (let i = 0; i < M; i++)
        for (let j = 0; j < N; j++) {
          const s = round(Math.sqrt(round(variance[j] + eps)));
          const out = round(round(gamma[j] * round(round(Y0[i * N + j] - mean[j]) / s)) + beta[j]);
          expect(Y[i * N + j]).toBe(out);
        }

      // Backward, into another array and in place.
      const two = round(2 / M);
      const expected = new Float64Array(M * N);
      const [dg, db] = [new Float64Array(N), new Float64Array(N)];
      for (let j = 0; j < N; j++) {
        const s = std[j];
        const ss = round(s * s);
        let [sdy, sdg, sds] = [0, 0, 0];
        for (let i = 0; i < M; i++) {
          const [dy, x] = [dY[i * N + j], xc[i * N + j]];
          sdy = round(sdy + dy);
          sdg = round(sdg + round(round(x / s) * dy));
          sds = round(sds + round(round(round(gamma[j] * dy) * x) / ss));
        }
        [dg[j], db[j]] = [sdg, sdy];
        const dvar = round(round(0.5 * -sds) / s);
        let dmu = 0;
        for (let i = 0; i < M; i++) {
          const [dy, x] = [dY[i * N + j], xc[i * N + j]];
          const dxc = round(round(round(gamma[j] * dy) / s) + round(round(two * x) * dvar));
          expected[i * N + j] = dxc;
          dmu = round(dmu + dxc);
        }
        for (let i = 0; i < M; i++) expected[i * N + j] = round(expected[i * N + j] - round(dmu / M));
      }
      const dX = alloc(M * N + GUARD, 3).fill(SENTINEL);
      const args = [xc.byteOffset, gamma.byteOffset, std.byteOffset, dgamma.byteOffset, dbeta.byteOffset] as const;
      kernels.batchNormBackward(M, N, dY.byteOffset, ...args, dX.byteOffset);
      expect(firstBitDifference(Float64Array.from(dX.subarray(0, M * N)), expected)).toBe(-1);
      expect(firstBitDifference(Float64Array.from(dgamma.subarray(0, N)), dg)).toBe(-1);
      expect(firstBitDifference(Float64Array.from(dbeta.subarray(0, N)), db)).toBe(-1);
      expect([dX, dgamma, dbeta].every(untouched)).toBe(true);
      kernels.batchNormBackward(M, N, dY.byteOffset, ...args, dY.byteOffset);
      expect(firstBitDifference(Float64Array.from(dY.subarray(0, M * N)), expected)).toBe(-1);
      expect(untouched(dY)).toBe(true);
    },
  );

  it.each([0, 0.2, 0.5, 0.9])(
    "dropout %f draws the JS stream's next() > ratio, state carried across calls",
    (ratio) => {
      heap.reset();
      const n = 1003;
      const state = new Uint32Array(memory.buffer, alloc(4).byteOffset, 4);
      state.set(streamState(5, 'dropout'));
      const Y = alloc(n + GUARD, 1);
      fill(Y, rng(9, `dropout-${precision}`));
      Y.fill(SENTINEL, n);
      const Y0 = Y.slice();
      // Two calls, 400 then 603 draws: the second continues where the first stopped.
      kernels.dropout(400, Y.byteOffset, state.byteOffset, dropoutThreshold(ratio));
      kernels.dropout(n - 400, Y.byteOffset + 400 * Y.BYTES_PER_ELEMENT, state.byteOffset, dropoutThreshold(ratio));
      const stream = rng(5, 'dropout');
      const kept = Array.from({ length: n }, () => stream.next() > ratio);
      for (let i = 0; i < n; i++) expect(Object.is(Y[i], Y0[i] * (kept[i] ? 1 : 0)), `Y[${i}]`).toBe(true);
      expect([...Y.subarray(n)].every((v) => v === SENTINEL)).toBe(true);
      const dropped = kept.filter((k) => !k).length / n;
      expect(Math.abs(dropped - ratio)).toBeLessThan(0.05);
      // scale, dropout's test pass.
      Y.set(Y0);
      kernels.scale(n, 1 - ratio, Y.byteOffset);
      expect([...Y.subarray(0, n)]).toEqual([...Y0.subarray(0, n)].map((y) => round(round(1 - ratio) * y)));
      expect([...Y.subarray(n)].every((v) => v === SENTINEL)).toBe(true);
    },
  );

  it('rejects pointers below the heap base or misaligned', () => {
    expect(() => kernels.nn(2, 2, 2, 0, KERNEL_HEAP_BASE, KERNEL_HEAP_BASE + 64)).toThrow(
      /pointers must be byte offsets/,
    );
    expect(() => kernels.nt(2, 2, 2, KERNEL_HEAP_BASE + 2, KERNEL_HEAP_BASE, KERNEL_HEAP_BASE + 64)).toThrow(
      /multiples of/,
    );
    expect(() => kernels.tn(-1, 2, 2, KERNEL_HEAP_BASE, KERNEL_HEAP_BASE, KERNEL_HEAP_BASE)).toThrow(
      /sizes must be integers/,
    );
  });
});

// ---- threads ----

/**
 * Worker threads, each with its own instances (loaded from the compiled dist/, which
 * the global setup builds: this also checks the loader finds kernels/ from there),
 * updating their own slice of one shared memory at the same time.
 */
describe('several threads on one shared memory', () => {
  it('run Adam and GEMM concurrently with the same results as one thread', async () => {
    const THREADS = 2;
    const n = 20_003;
    const steps = 30;
    const gemmSize = 64;
    const memory = createSharedMemory(THREADS * (4 * n + 3 * gemmSize * gemmSize) * 8 + 4096);
    const heap = arena(memory);
    const r = rng(3, 'threads');
    const slices = Array.from({ length: THREADS }, () => {
      const [W, g, m, v] = [heap.f64(n), heap.f64(n), heap.f64(n), heap.f64(n)];
      const [A, B, C] = [heap.f64(gemmSize ** 2), heap.f64(gemmSize ** 2), heap.f64(gemmSize ** 2)];
      for (const x of [W, g, A, B]) for (let i = 0; i < x.length; i++) x[i] = r.normal();
      return { W, g, m, v, A, B, C };
    });
    const expected = slices.map(({ W, g, A, B }) => {
      const s: OptState = { arrays: [new Float64Array(n), new Float64Array(n)], count: 0 };
      const WJs = W.slice();
      for (let t = 0; t < steps; t++) OPTIMIZERS.adam.update(WJs, g, s, defaultHyper('adam'));
      return { W: WJs, C: reference('nn', gemmSize, gemmSize, gemmSize, A, B).C };
    });

    const loader = pathToFileURL(join(ROOT, 'dist', 'src', 'kernels', 'index.js')).href;
    const source = `
      const { workerData, parentPort } = require('node:worker_threads');
      import(${JSON.stringify(loader)}).then(({ optimizerKernel, gemmKernels }) => {
        const { memory, p, n, steps, hyper, gemmSize } = workerData;
        const view = (offset, length) => new Float64Array(memory.buffer, offset, length);
        const W = view(p.W, n), g = view(p.g, n);
        const s = { arrays: [view(p.m, n), view(p.v, n)], count: 0 };
        const adam = optimizerKernel('adam', memory);
        const gemm = gemmKernels('f64', memory);
        for (let t = 0; t < steps; t++) {
          adam(W, g, s, hyper);
          gemm.nn(gemmSize, gemmSize, gemmSize, p.A, p.B, p.C);
        }
        parentPort.postMessage('done');
      }).catch((e) => parentPort.postMessage(String(e && e.stack || e)));`;
    const results = await Promise.all(
      slices.map(
        (slice) =>
          new Promise<unknown>((resolve, reject) => {
            const p = Object.fromEntries(Object.entries(slice).map(([k, x]) => [k, x.byteOffset]));
            const worker = new Worker(source, {
              eval: true,
              workerData: { memory, p, n, steps, hyper: defaultHyper('adam'), gemmSize },
            });
            worker.once('message', (m) => void worker.terminate().then(() => resolve(m)));
            worker.once('error', reject);
          }),
      ),
    );
    expect(results).toEqual(slices.map(() => 'done'));
    for (const [i, slice] of slices.entries()) {
      expect(firstBitDifference(slice.W, expected[i].W)).toBe(-1);
      for (let j = 0; j < slice.C.length; j++) expect(slice.C[j]).toBeCloseTo(expected[i].C[j], 10);
    }
  });
});
