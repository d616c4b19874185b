/**
 * THE PLAIN-JS PRODUCTS of the reference network (./reference.ts), which the tests
 * hold the kernel network (./network.ts, on the WebAssembly kernels) to and the
 * bench times. Not used by the problem at run time. test/mnist-gemm.test.ts holds
 * these to the naive product.
 *
 * Conventions (BLAS-like): every matrix is row-major inside a Float64Array, starting
 * at an offset (the network's weights live inside one flat parameter vector). Each
 * function computes C = op(A)·op(B) with op(A) m×k and op(B) k×n, so C is m×n, and
 * overwrites C (no accumulation). C must not overlap A or B.
 *
 *   gemm   C = A·B     A stored m×k, B stored k×n    (forward: Z = X·W)
 *   gemmTN C = Aᵀ·B    A stored k×m, B stored k×n    (backward: dW = Xᵀ·dZ)
 *   gemmNT C = A·Bᵀ    A stored m×k, B stored n×k    (backward: dX = dZ·Wᵀ)
 *
 * Exact zeros in A are skipped in `gemm` and `gemmTN` (80% of MNIST pixels are 0,
 * and about half the ReLU activations): a 3–5× saving on the first layer. Skipping
 * 0·b changes no finite sum but would drop a NaN or ±Inf in B, so the network
 * checks its parameters for those itself rather than rely on propagation. The sums
 * are grouped in fours (see each kernel), so results match a naive triple loop to
 * rounding, not bit for bit; they are deterministic for given inputs.
 */

export type Gemm = (
  A: Float64Array,
  aOffset: number,
  B: Float64Array,
  bOffset: number,
  C: Float64Array,
  cOffset: number,
  m: number,
  k: number,
  n: number,
) => void;

export interface GemmKernels {
  readonly gemm: Gemm;
  readonly gemmTN: Gemm;
  readonly gemmNT: Gemm;
}

/** The indices of the nonzeros of one row of A in `gemm` (grown as needed; the
 * kernels are synchronous, so one buffer per thread serves every call). */
let nonzeros = new Int32Array(1024);

/**
 * C = A·B, in i-k-j order: row i of C accumulates A[i,p]·(row p of B) over the
 * nonzero A[i,p], four rows of B per pass over C's row (a quarter of the loads and
 * stores of C).
 */
export const gemm: Gemm = (A, aOffset, B, bOffset, C, cOffset, m, k, n) => {
  if (nonzeros.length < k) nonzeros = new Int32Array(k);
  const nz = nonzeros;
  for (let i = 0; i < m; i++) {
    const cRow = cOffset + i * n;
    const aRow = aOffset + i * k;
    C.fill(0, cRow, cRow + n);
    let count = 0;
    for (let p = 0; p < k; p++) if (A[aRow + p] !== 0) nz[count++] = p;
    let q = 0;
    for (; q + 4 <= count; q += 4) {
      const p0 = nz[q];
      const p1 = nz[q + 1];
      const p2 = nz[q + 2];
      const p3 = nz[q + 3];
      const a0 = A[aRow + p0];
      const a1 = A[aRow + p1];
      const a2 = A[aRow + p2];
      const a3 = A[aRow + p3];
      const b0 = bOffset + p0 * n;
      const b1 = bOffset + p1 * n;
      const b2 = bOffset + p2 * n;
      const b3 = bOffset + p3 * n;
      for (let j = 0; j < n; j++) C[cRow + j] += a0 * B[b0 + j] + a1 * B[b1 + j] + a2 * B[b2 + j] + a3 * B[b3 + j];
    }
    for (; q < count; q++) {
      const p = nz[q];
      const a = A[aRow + p];
      const bRow = bOffset + p * n;
      for (let j = 0; j < n; j++) C[cRow + j] += a * B[bRow + j];
    }
  }
};

/** Aᵀ in `gemmTN` (grown as needed, like `nonzeros`). */
let transposed = new Float64Array(1024);

/**
 * C = Aᵀ·B: A is transposed into scratch (m·k copies, against m·k·n multiplies),
 * then multiplied by `gemm`, which then skips the zeros of each row of Aᵀ.
 */
export const gemmTN: Gemm = (A, aOffset, B, bOffset, C, cOffset, m, k, n) => {
  if (transposed.length < m * k) transposed = new Float64Array(m * k);
  const At = transposed;
  for (let p = 0; p < k; p++) {
    const aRow = aOffset + p * m;
    for (let i = 0; i < m; i++) At[i * k + p] = A[aRow + i];
  }
  gemm(At, 0, B, bOffset, C, cOffset, m, k, n);
};

/**
 * C = A·Bᵀ: C[i,j] is the dot product of row i of A and row j of B, four j at a
 * time (four independent sums sharing each load of A).
 */
export const gemmNT: Gemm = (A, aOffset, B, bOffset, C, cOffset, m, k, n) => {
  for (let i = 0; i < m; i++) {
    const aRow = aOffset + i * k;
    const cRow = cOffset + i * n;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const b0 = bOffset + j * k;
      const b1 = b0 + k;
      const b2 = b1 + k;
      const b3 = b2 + k;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let p = 0; p < k; p++) {
        const a = A[aRow + p];
        s0 += a * B[b0 + p];
        s1 += a * B[b1 + p];
        s2 += a * B[b2 + p];
        s3 += a * B[b3 + p];
      }
      C[cRow + j] = s0;
      C[cRow + j + 1] = s1;
      C[cRow + j + 2] = s2;
      C[cRow + j + 3] = s3;
    }
    for (; j < n; j++) {
      const bRow = bOffset + j * k;
      let s = 0;
      for (let p = 0; p < k; p++) s += A[aRow + p] * B[bRow + p];
      C[cRow + j] = s;
    }
  }
};

/** The plain-JS kernels, the reference for any faster implementation. */
export const jsGemm: GemmKernels = { gemm, gemmTN, gemmNT };
