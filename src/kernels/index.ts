/**
 * WebAssembly SIMD kernels (kernels/*.c, built by kernels/build.sh into the committed
 * kernels/*.wasm) that run on a shared WebAssembly.Memory, so every worker thread can
 * run them on parameters that live in one SharedArrayBuffer.
 *
 * MEMORY LAYOUT. The modules import their memory (env.memory, shared). Its first
 * KERNEL_HEAP_BASE bytes belong to the modules (their C stack, which no kernel
 * actually uses: kernels/build.sh checks that); callers place their arrays at or above
 * KERNEL_HEAP_BASE, anywhere, aligned to their element size (16-byte alignment is
 * faster for the SIMD loads, 64 keeps rows on cache lines). `createSharedMemory(bytes)`
 * makes a memory with `bytes` free bytes from KERNEL_HEAP_BASE up.
 *
 * OPTIMIZERS (float64 f64x2, float32 f32x4). `optimizerKernel(name, memory, precision)`
 * returns an update with the signature of `Optimizer.update` (src/optimizers/types.ts):
 * in float64 bit for bit equal to the JS loops in src/optimizers/*.ts, in float32 to
 * those loops with every operation rounded to float32 (four lanes to a vector). Its
 * arrays must be of the precision (Float64Array, Float32Array) and views over
 * `memory.buffer`. The math (kernels/optim.c has it in full):
 *
 *   sgd       W ← W − η·g
 *   momentum  v ← α·v − η·g ;  W ← W + v
 *   nesterov  W ← W + α²·v − (1+α)·η·g ;  v ← α·v − η·g
 *   adagrad   h ← h + g⊙g ;  W ← W − η·g / (√h + ε)
 *   rmsprop   h ← ρ·h + (1−ρ)·g⊙g ;  W ← W − η·g / (√h + ε)
 *   adam      t ← t+1 ; η_t = η·√(1−β₂ᵗ)/(1−β₁ᵗ) ;  m ← m + (1−β₁)(g − m) ;
 *             v ← v + (1−β₂)(g⊙g − v) ;  W ← W − η_t·m / (√v + ε)
 *
 * DENSE KERNELS (float32 f32x4 and float64 f64x2). `gemmKernels('f32' | 'f64', memory)`.
 * Matrices are dense row-major; every pointer is a byte offset into the memory (a
 * view's `byteOffset`); sizes are element counts; `accumulate` adds to the output
 * instead of overwriting it. Outputs must not overlap inputs (except dX = dY).
 *
 *   nn(M, N, K, A, B, C, acc)     C[M×N] (+)= A[M×K] · B[K×N]     C_ij = Σ_k A_ik·B_kj
 *   tn(M, N, K, A, B, C, acc)     C[M×N] (+)= A[K×M]ᵀ · B[K×N]    C_ij = Σ_k A_ki·B_kj
 *   nt(M, N, K, A, B, C, acc)     C[M×N] (+)= A[M×K] · B[N×K]ᵀ    C_ij = Σ_k A_ik·B_jk
 *   nnSparse(M, N, K, A, B, C, acc, work)   nn, skipping the exact zeros of A
 *   tnSparse(M, N, K, A, B, C, acc, work)   tn, skipping the exact zeros of A
 *                                 (work: sparseWorkBytes(K) bytes of the caller's scratch)
 *   biasRelu(M, N, b, Y)          Y_ij ← max(Y_ij + b_j, 0)       (NaN stays NaN)
 *   biasAdd(M, N, b, Y)           Y_ij ← Y_ij + b_j
 *   reluBackward(n, Y, dY, dX)    dX_i ← Y_i > 0 ? dY_i : 0      (Y: the ReLU's output)
 *   colSums(M, N, dY, db, acc)    db_j (+)= Σ_i dY_ij
 *   transpose(M, N, A, B)         B[N×M] ← A[M×N]ᵀ                (B_ji = A_ij)
 *   batchNormTrain(M, N, Y, γ, β, xc, std, mean, var, m, ε, relu)
 *                                 per column j over the M rows: μ, σ² of Y's column;
 *                                 xc = Y − μ; s = √(σ² + ε); Y ← γ·xc/s + β (ReLU'd if
 *                                 relu); std = s; mean ← m·mean + (1−m)·μ, var likewise
 *   batchNormTest(M, N, Y, γ, β, mean, var, ε, relu)   Y ← γ·(Y − mean)/√(var + ε) + β
 *   batchNormBackward(M, N, dY, xc, γ, std, dγ, dβ, dX)  the book's backward pass of
 *                                 batchNormTrain's affine part (dX may be dY)
 *   dropout(n, Y, state, threshold)  Y_i ← Y_i·[u_i > threshold], u_i the u32 outputs
 *                                 of the sfc32 state at `state` (src/rng.ts's generator)
 *   scale(n, s, Y)                Y_i ← s·Y_i
 *
 * An affine layer Y = X·W + b is nn + biasRelu (or biasAdd); its backward pass is
 * dW = Xᵀ·dY (tn), db = colSums(dY), dX = dY·Wᵀ (nt). nn and tn (and their sparse
 * forms) add each C_ij's products in k order, so they equal the naive loop in their
 * precision bit for bit; nt sums interleaved partial sums, equal to it up to rounding.
 * The sparse forms pay off when A is mostly zeros (MNIST pixels, ~80% zeros: 2–3×;
 * ReLU outputs, ~50%: 1.2–1.3×); skipping a zero drops the NaN that 0·±Inf or 0·NaN
 * in B would have given, so check B for non-finite values if that matters. The
 * backward dX = dY·Wᵀ with dY mostly zeros (after reluBackward) can also skip them:
 * transpose(W) into scratch, then nnSparse(dY, Wᵀ).
 *
 * Each thread compiles each module once (synchronously, on first use) and instantiates
 * it once per memory.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adamStepSize } from '../optimizers/adam.js';
import { OPTIMIZERS, type OptimizerName } from '../optimizers/index.js';
import type { Hyper, OptState, Params } from '../optimizers/types.js';
import { ROOT } from '../paths.js';

/**
 * The part of the WebAssembly JS API used here. The project's lib (ES2022) has none
 * (it lives in lib.dom); declared in this module only, so it cannot clash with a
 * global declaration, and structurally the same as lib.dom's.
 */
/* eslint-disable @typescript-eslint/no-namespace, @typescript-eslint/no-empty-object-type -- a
   declaration of the platform's own namespace, as lib.dom spells it */
declare namespace WebAssembly {
  interface MemoryDescriptor {
    initial: number;
    maximum?: number;
    shared?: boolean;
  }
  interface Memory {
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
    grow(delta: number): number;
  }
  interface Global {
    value: number;
  }
  interface Module {}
  interface Instance {
    readonly exports: Record<string, unknown>;
  }
  const Memory: { new (descriptor: MemoryDescriptor): Memory; prototype: Memory };
  const Module: { new (bytes: Uint8Array): Module };
  const Instance: { new (module: Module, imports: Record<string, Record<string, unknown>>): Instance };
}
/* eslint-enable @typescript-eslint/no-namespace, @typescript-eslint/no-empty-object-type */

/** The shared memory the kernels run on (a WebAssembly.Memory with `shared: true`). */
export type KernelMemory = WebAssembly.Memory;

/** Bytes in a WebAssembly page, the unit of a memory's size. */
export const WASM_PAGE_BYTES = 65536;
/** The most pages a wasm32 memory can have (4 GiB): the modules' declared maximum. */
export const WASM32_MAX_PAGES = 65536;
/** The first byte callers may use; below it is the modules' own (see build.sh's
 * STACK_BYTES; instantiation checks each module's exported __heap_base equals it). */
export const KERNEL_HEAP_BASE = 65536;

/**
 * A shared memory with `bytes` free bytes from KERNEL_HEAP_BASE up (rounded up to
 * whole pages). It can grow to `maximumBytes` (default: not at all). A shared memory
 * reserves address space for its maximum up front (not RAM: but under an
 * address-space limit, `ulimit -v`, a 4 GiB reservation per memory soon fails), so
 * ask only for what will be used.
 */
export function createSharedMemory(bytes: number, maximumBytes?: number): WebAssembly.Memory {
  if (!Number.isSafeInteger(bytes) || bytes < 0)
    throw new RangeError(`createSharedMemory: bytes must be a non-negative integer, got ${bytes}`);
  const initial = Math.ceil((KERNEL_HEAP_BASE + bytes) / WASM_PAGE_BYTES);
  const maximum = maximumBytes === undefined ? initial : Math.ceil(maximumBytes / WASM_PAGE_BYTES);
  if (initial > WASM32_MAX_PAGES)
    throw new RangeError(
      `createSharedMemory: ${bytes} bytes above the heap base need ${initial} pages, more than the wasm32 limit of ${WASM32_MAX_PAGES}`,
    );
  if (maximum < initial || maximum > WASM32_MAX_PAGES)
    throw new RangeError(
      `createSharedMemory: maximumBytes must be between the initial size (${initial * WASM_PAGE_BYTES}) and 4 GiB, got ${maximumBytes}`,
    );
  const memory = new WebAssembly.Memory({ initial, maximum, shared: true });
  rememberBuffer(memory);
  return memory;
}

// ---- modules and instances ----

const modules = new Map<string, WebAssembly.Module>();

/** Compiles kernels/<file> once per thread (it is small: synchronous is fine). */
function compiled(file: string): WebAssembly.Module {
  let module = modules.get(file);
  if (!module) {
    module = new WebAssembly.Module(readFileSync(join(ROOT, 'kernels', file)));
    modules.set(file, module);
  }
  return module;
}

function instantiate(file: string, memory: WebAssembly.Memory): Record<string, unknown> {
  if (!(memory.buffer instanceof SharedArrayBuffer))
    throw new TypeError(`kernels/${file}: the memory must be shared (make it with createSharedMemory)`);
  const { exports } = new WebAssembly.Instance(compiled(file), { env: { memory } });
  const heapBase = (exports.__heap_base as WebAssembly.Global).value;
  if (heapBase !== KERNEL_HEAP_BASE)
    throw new Error(
      `kernels/${file}: __heap_base is ${heapBase}, but src/kernels/index.ts reserves ${KERNEL_HEAP_BASE} bytes: rebuild with kernels/build.sh or update KERNEL_HEAP_BASE`,
    );
  rememberBuffer(memory);
  return exports;
}

/** One instance per memory and thread, created on first use. */
function perMemory<T>(file: string, wrap: (exports: Record<string, unknown>) => T): (memory: WebAssembly.Memory) => T {
  const cache = new WeakMap<WebAssembly.Memory, T>();
  return (memory) => {
    let value = cache.get(memory);
    if (value === undefined) {
      value = wrap(instantiate(file, memory));
      cache.set(memory, value);
    }
    return value;
  };
}

// ---- views over the memory ----

/**
 * The buffers seen for each memory. A view made before `memory.grow()` keeps the old
 * SharedArrayBuffer object, which still aliases the same memory; remembering the
 * buffers seen lets such views through.
 */
const knownBuffers = new WeakMap<WebAssembly.Memory, WeakSet<ArrayBufferLike>>();

function rememberBuffer(memory: WebAssembly.Memory): ArrayBufferLike {
  const buffer = memory.buffer;
  let set = knownBuffers.get(memory);
  if (!set) knownBuffers.set(memory, (set = new WeakSet()));
  set.add(buffer);
  return buffer;
}

function isOver(view: ArrayBufferView, memory: WebAssembly.Memory): boolean {
  return view.buffer === rememberBuffer(memory) || knownBuffers.get(memory)!.has(view.buffer);
}

function checkView(
  where: string,
  name: string,
  view: Params,
  type: Float64ArrayConstructor | Float32ArrayConstructor,
  memory: WebAssembly.Memory,
  length: number,
): void {
  if (!(view instanceof type)) throw new TypeError(`${where}: ${name} must be a ${type.name}`);
  if (!isOver(view, memory))
    throw new Error(
      `${where}: ${name} is not a view over the kernels' WebAssembly.Memory (its buffer is another ${view.buffer.constructor.name}); make it from memory.buffer (after a grow() elsewhere, from this thread's memory.buffer)`,
    );
  if (view.byteOffset < KERNEL_HEAP_BASE)
    throw new RangeError(
      `${where}: ${name} starts at byte ${view.byteOffset}, inside the kernels' reserved [0, ${KERNEL_HEAP_BASE}); place arrays at or above KERNEL_HEAP_BASE`,
    );
  if (view.length !== length)
    throw new RangeError(`${where}: ${name} has ${view.length} elements, W has ${length}; they must match`);
}

function checkDisjoint(where: string, names: readonly string[], views: readonly Params[]): void {
  for (let i = 0; i < views.length; i++)
    for (let j = i + 1; j < views.length; j++) {
      const a = views[i];
      const b = views[j];
      if (
        a.byteOffset < b.byteOffset + b.byteLength &&
        b.byteOffset < a.byteOffset + a.byteLength &&
        a.length &&
        b.length
      )
        throw new RangeError(`${where}: ${names[i]} and ${names[j]} overlap; every array needs its own bytes`);
    }
}

// ---- optimizers ----

/** kernels/optim.c's exports of one precision (name_f64 or name_f32): pointers are
 * byte offsets, n the element count. */
interface OptimExports {
  sgd(W: number, g: number, n: number, lr: number): void;
  momentum(W: number, g: number, v: number, n: number, lr: number, alpha: number): void;
  nesterov(
    W: number,
    g: number,
    v: number,
    n: number,
    lr: number,
    alpha: number,
    alphaSquared: number,
    c: number,
  ): void;
  adagrad(W: number, g: number, h: number, n: number, lr: number, eps: number): void;
  rmsprop(W: number, g: number, h: number, n: number, lr: number, rho: number, oneMinusRho: number, eps: number): void;
  adam(W: number, g: number, m: number, v: number, n: number, lrT: number, a: number, b: number, eps: number): void;
}

/** One step given the instance and the state arrays' byte offsets; the scalars are
 * derived from the hyperparameters here, by the same JS expressions as the reference
 * loops, so the kernels see bit-identical inputs (float32 kernels round each to
 * float32 as it crosses into wasm). */
type Step = (k: OptimExports, W: Params, g: Params, s: OptState, h: Hyper) => void;

const STEPS: Record<OptimizerName, Step> = {
  sgd(k, W, g, s, { lr }) {
    k.sgd(W.byteOffset, g.byteOffset, W.length, lr);
    s.count++;
  },
  momentum(k, W, g, s, { lr, momentum: alpha }) {
    k.momentum(W.byteOffset, g.byteOffset, s.arrays[0].byteOffset, W.length, lr, alpha);
    s.count++;
  },
  nesterov(k, W, g, s, { lr, momentum: alpha }) {
    const a2 = alpha * alpha;
    const c = (1 + alpha) * lr;
    k.nesterov(W.byteOffset, g.byteOffset, s.arrays[0].byteOffset, W.length, lr, alpha, a2, c);
    s.count++;
  },
  adagrad(k, W, g, s, { lr, eps }) {
    k.adagrad(W.byteOffset, g.byteOffset, s.arrays[0].byteOffset, W.length, lr, eps);
    s.count++;
  },
  rmsprop(k, W, g, s, { lr, rho, eps }) {
    const oneMinusRho = 1 - rho;
    k.rmsprop(W.byteOffset, g.byteOffset, s.arrays[0].byteOffset, W.length, lr, rho, oneMinusRho, eps);
    s.count++;
  },
  adam(k, W, g, s, { lr, beta1, beta2, eps }) {
    const [m, v] = s.arrays;
    const t = ++s.count;
    const lrT = adamStepSize(lr, beta1, beta2, t);
    k.adam(W.byteOffset, g.byteOffset, m.byteOffset, v.byteOffset, W.length, lrT, 1 - beta1, 1 - beta2, eps);
  },
};

const optimInstance = perMemory('optim.wasm', (exports) => {
  const of = (precision: Precision) =>
    Object.fromEntries(
      Object.keys(STEPS).map((name) => [name, exports[`${name}_${precision}`]]),
    ) as unknown as OptimExports;
  return { f64: of('f64'), f32: of('f32') };
});

export type OptimizerUpdate = (W: Params, g: Params, s: OptState, h: Hyper) => void;

/** The typed array of each precision. */
const ARRAY_OF: Record<Precision, Float64ArrayConstructor | Float32ArrayConstructor> = {
  f64: Float64Array,
  f32: Float32Array,
};

/**
 * The kernel for optimizer `name` on `memory` in `precision`: the signature of
 * `OPTIMIZERS[name].update`, for arrays of that precision over `memory.buffer` that do
 * not overlap. In float64 its results are the JS loop's bit for bit; in float32 they
 * are that loop's with every operation rounded to float32 (kernels/optim.c).
 */
export function optimizerKernel(
  name: OptimizerName,
  memory: WebAssembly.Memory,
  precision: Precision = 'f64',
): OptimizerUpdate {
  if (!Object.hasOwn(STEPS, name))
    throw new RangeError(`optimizerKernel: no kernel for optimizer "${name}"; one of ${Object.keys(STEPS).join(', ')}`);
  if (!Object.hasOwn(ARRAY_OF, precision))
    throw new RangeError(`optimizerKernel: precision must be 'f32' or 'f64', got ${String(precision)}`);
  const k = optimInstance(memory)[precision];
  const step = STEPS[name];
  const where = `optimizerKernel('${name}', '${precision}')`;
  const stateNames = OPTIMIZERS[name].state;
  const names = ['W', 'g', ...stateNames];
  const type = ARRAY_OF[precision];
  return (W, g, s, h) => {
    if (s.arrays.length !== stateNames.length)
      throw new RangeError(
        `${where}: expected ${stateNames.length} state arrays (${stateNames.join(', ')}), got ${s.arrays.length}`,
      );
    const n = W.length;
    checkView(where, 'W', W, type, memory, n);
    checkView(where, 'g', g, type, memory, n);
    for (let i = 0; i < stateNames.length; i++)
      checkView(where, `state ${stateNames[i]}`, s.arrays[i], type, memory, n);
    checkDisjoint(where, names, [W, g, ...s.arrays]);
    step(k, W, g, s, h);
  };
}

// ---- dense kernels ----

export type Precision = 'f32' | 'f64';

/** Bytes per element of each precision. */
export const ELEMENT_BYTES: Record<Precision, number> = { f32: 4, f64: 8 };

/** The dense kernels of one precision on one memory. Pointers are byte offsets, sizes
 * element counts; see the top of this file for the math. */
export interface GemmKernels {
  readonly precision: Precision;
  /** C[M×N] (+)= A[M×K]·B[K×N] */
  nn(M: number, N: number, K: number, A: number, B: number, C: number, accumulate?: boolean): void;
  /** C[M×N] (+)= A[K×M]ᵀ·B[K×N] */
  tn(M: number, N: number, K: number, A: number, B: number, C: number, accumulate?: boolean): void;
  /** C[M×N] (+)= A[M×K]·B[N×K]ᵀ */
  nt(M: number, N: number, K: number, A: number, B: number, C: number, accumulate?: boolean): void;
  /** nn skipping the exact zeros of A; `work` points to sparseWorkBytes(K) bytes of
   * scratch (per thread: it is overwritten by every call). */
  nnSparse(M: number, N: number, K: number, A: number, B: number, C: number, accumulate: boolean, work: number): void;
  /** tn skipping the exact zeros of A; `work` as for nnSparse. */
  tnSparse(M: number, N: number, K: number, A: number, B: number, C: number, accumulate: boolean, work: number): void;
  /** Bytes of scratch nnSparse and tnSparse need for depth K: the compacted nonzeros
   * of a few rows of op(A) and the byte offsets of their rows of B (3 KiB for K = 128
   * in f64, 24.5 KiB for K = 784 in f32). */
  sparseWorkBytes(K: number): number;
  /** Y[M×N] ← max(Y + b, 0), b broadcast along rows */
  biasRelu(M: number, N: number, b: number, Y: number): void;
  /** Y[M×N] ← Y + b, b broadcast along rows */
  biasAdd(M: number, N: number, b: number, Y: number): void;
  /** dX[n] ← Y > 0 ? dY : 0 (dX may be dY) */
  reluBackward(n: number, Y: number, dY: number, dX: number): void;
  /** db[N] (+)= Σ_i dY[i, ·] over the M rows */
  colSums(M: number, N: number, dY: number, db: number, accumulate?: boolean): void;
  /** B[N×M] ← A[M×N]ᵀ (B must not overlap A) */
  transpose(M: number, N: number, A: number, B: number): void;
  /** The book's batch normalization in training, per column of Y[M×N], in place (see
   * the top of this file); xc[M×N] and std[N] are written for the backward pass, the
   * running `mean` and `variance` [N] updated with `momentum`. */
  batchNormTrain(
    M: number,
    N: number,
    Y: number,
    gamma: number,
    beta: number,
    xc: number,
    std: number,
    mean: number,
    variance: number,
    momentum: number,
    eps: number,
    relu: boolean,
  ): void;
  /** The test pass: Y ← γ·(Y − mean)/√(variance + ε) + β per column, in place. */
  batchNormTest(
    M: number,
    N: number,
    Y: number,
    gamma: number,
    beta: number,
    mean: number,
    variance: number,
    eps: number,
    relu: boolean,
  ): void;
  /** dγ, dβ [N] and dX[M×N] (which may be dY) from dY and batchNormTrain's xc and std. */
  batchNormBackward(
    M: number,
    N: number,
    dY: number,
    xc: number,
    gamma: number,
    std: number,
    dgamma: number,
    dbeta: number,
    dX: number,
  ): void;
  /** Y[n] ← Y·[u > threshold] for the next n u32 draws u of the sfc32 state (four u32
   * at `state`, 4-byte aligned), which it advances. */
  dropout(n: number, Y: number, state: number, threshold: number): void;
  /** Y[n] ← s·Y */
  scale(n: number, s: number, Y: number): void;
}

type Kernel = (...args: number[]) => void;

/** The `threshold` of `dropout` for a dropout ratio r in [0, 1): ⌊r·2³²⌋, since a u32
 * draw u has u/2³² > r (the book's `rand > ratio`: kept) exactly when u > ⌊r·2³²⌋. */
export function dropoutThreshold(ratio: number): number {
  if (!(ratio >= 0 && ratio < 1)) throw new RangeError(`dropout ratio must be in [0, 1), got ${ratio}`);
  return Math.floor(ratio * 2 ** 32);
}

/** Bytes of one word of the sfc32 state that `dropout` advances. */
const SFC32_WORD_BYTES = 4;
/** Bytes of one compacted row offset in the sparse products' scratch (a u32). */
const SPARSE_OFFSET_BYTES = 4;
/** Elements per v128: tnSparse compacts this many rows of Aᵀ at once, each into its
 * own part of the scratch. */
const LANES: Record<Precision, number> = { f32: 4, f64: 2 };

function checkArgs(where: string, elementBytes: number, sizes: readonly number[], pointers: readonly number[]): void {
  for (const size of sizes)
    if (!(Number.isInteger(size) && size >= 0 && size <= 0xffffffff))
      throw new RangeError(`${where}: sizes must be integers >= 0, got ${sizes.join(', ')}`);
  for (const p of pointers)
    if (!(Number.isInteger(p) && p >= KERNEL_HEAP_BASE && p % elementBytes === 0))
      throw new RangeError(
        `${where}: pointers must be byte offsets >= KERNEL_HEAP_BASE (${KERNEL_HEAP_BASE}) and multiples of ${elementBytes}, got ${pointers.join(', ')}`,
      );
}

function wrapGemm(exports: Record<string, unknown>, precision: Precision): GemmKernels {
  const fn = (name: string) => exports[`${name}_${precision}`] as Kernel;
  const bytes = ELEMENT_BYTES[precision];
  const product = (name: string) => {
    const kernel = fn(name);
    const where = `gemmKernels('${precision}').${name.slice('gemm_'.length)}`;
    return (M: number, N: number, K: number, A: number, B: number, C: number, accumulate = false) => {
      checkArgs(where, bytes, [M, N, K], [A, B, C]);
      kernel(M, N, K, A, B, C, accumulate ? 1 : 0);
    };
  };
  const sparse = (name: string) => {
    const kernel = fn(name);
    const where = `gemmKernels('${precision}').${name.slice('gemm_'.length).replace('_sparse', 'Sparse')}`;
    return (M: number, N: number, K: number, A: number, B: number, C: number, accumulate: boolean, work: number) => {
      checkArgs(where, bytes, [M, N, K], [A, B, C, work]);
      kernel(M, N, K, A, B, C, accumulate ? 1 : 0, work);
    };
  };
  const biasRelu = fn('bias_relu');
  const biasAdd = fn('bias_add');
  const reluBackward = fn('relu_backward');
  const colSums = fn('col_sums');
  const transpose = fn('transpose');
  const batchNormTrain = fn('batch_norm_train');
  const batchNormTest = fn('batch_norm_test');
  const batchNormBackward = fn('batch_norm_backward');
  const dropout = fn('dropout');
  const scale = fn('scale');
  const where = `gemmKernels('${precision}')`;
  return {
    precision,
    nn: product('gemm_nn'),
    tn: product('gemm_tn'),
    nt: product('gemm_nt'),
    nnSparse: sparse('gemm_nn_sparse'),
    tnSparse: sparse('gemm_tn_sparse'),
    sparseWorkBytes: (K) => LANES[precision] * K * (bytes + SPARSE_OFFSET_BYTES),
    biasRelu(M, N, b, Y) {
      checkArgs(`${where}.biasRelu`, bytes, [M, N], [b, Y]);
      biasRelu(M, N, b, Y);
    },
    biasAdd(M, N, b, Y) {
      checkArgs(`${where}.biasAdd`, bytes, [M, N], [b, Y]);
      biasAdd(M, N, b, Y);
    },
    reluBackward(n, Y, dY, dX) {
      checkArgs(`${where}.reluBackward`, bytes, [n], [Y, dY, dX]);
      reluBackward(n, Y, dY, dX);
    },
    colSums(M, N, dY, db, accumulate = false) {
      checkArgs(`${where}.colSums`, bytes, [M, N], [dY, db]);
      colSums(M, N, dY, db, accumulate ? 1 : 0);
    },
    transpose(M, N, A, B) {
      checkArgs(`${where}.transpose`, bytes, [M, N], [A, B]);
      transpose(M, N, A, B);
    },
    batchNormTrain(M, N, Y, gamma, beta, xc, std, mean, variance, momentum, eps, relu) {
      checkArgs(`${where}.batchNormTrain`, bytes, [M, N], [Y, gamma, beta, xc, std, mean, variance]);
      batchNormTrain(M, N, Y, gamma, beta, xc, std, mean, variance, momentum, eps, relu ? 1 : 0);
    },
    batchNormTest(M, N, Y, gamma, beta, mean, variance, eps, relu) {
      checkArgs(`${where}.batchNormTest`, bytes, [M, N], [Y, gamma, beta, mean, variance]);
      batchNormTest(M, N, Y, gamma, beta, mean, variance, eps, relu ? 1 : 0);
    },
    batchNormBackward(M, N, dY, xc, gamma, std, dgamma, dbeta, dX) {
      checkArgs(`${where}.batchNormBackward`, bytes, [M, N], [dY, xc, gamma, std, dgamma, dbeta, dX]);
      batchNormBackward(M, N, dY, xc, gamma, std, dgamma, dbeta, dX);
    },
    dropout(n, Y, state, threshold) {
      checkArgs(`${where}.dropout`, bytes, [n, threshold], [Y]);
      checkArgs(`${where}.dropout`, SFC32_WORD_BYTES, [], [state]);
      dropout(n, Y, state, threshold);
    },
    scale(n, s, Y) {
      checkArgs(`${where}.scale`, bytes, [n], [Y]);
      scale(n, s, Y);
    },
  };
}

const gemmInstance = perMemory('gemm.wasm', (exports) => ({
  f32: wrapGemm(exports, 'f32'),
  f64: wrapGemm(exports, 'f64'),
}));

/** The dense kernels in `precision` on `memory`. */
export function gemmKernels(precision: Precision, memory: WebAssembly.Memory): GemmKernels {
  if (precision !== 'f32' && precision !== 'f64')
    throw new RangeError(`gemmKernels: precision must be 'f32' or 'f64', got ${String(precision)}`);
  return gemmInstance(memory)[precision];
}
