/**
 * THE DENSE-KERNEL SEAM. The network does every matrix product through these three
 * functions and nothing else; WebAssembly SIMD kernels with the same signatures
 * (a `GemmKernels` object) are meant to replace `jsGemm` here.
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
 * Exact zeros in A are skipped in `gemm` and `gemmTN` (MNIST pixels are mostly 0,
 * and so are about half the ReLU activations). Adding 0·b changes no finite sum, so
 * the result is the same as the full product unless B holds NaN or ±Inf; the
 * network checks its parameters for those itself rather than rely on propagation.
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

/** C = A·B, in i-k-j order: row i of C accumulates A[i,p]·(row p of B). */
export const gemm: Gemm = (A, aOffset, B, bOffset, C, cOffset, m, k, n) => {
  for (let i = 0; i < m; i++) {
    const cRow = cOffset + i * n;
    const aRow = aOffset + i * k;
    C.fill(0, cRow, cRow + n);
    for (let p = 0; p < k; p++) {
      const a = A[aRow + p];
      if (a === 0) continue;
      const bRow = bOffset + p * n;
      for (let j = 0; j < n; j++) C[cRow + j] += a * B[bRow + j];
    }
  }
};

/** C = Aᵀ·B, summing over the shared rows: row i of C accumulates A[p,i]·(row p of B). */
export const gemmTN: Gemm = (A, aOffset, B, bOffset, C, cOffset, m, k, n) => {
  C.fill(0, cOffset, cOffset + m * n);
  for (let p = 0; p < k; p++) {
    const aRow = aOffset + p * m;
    const bRow = bOffset + p * n;
    for (let i = 0; i < m; i++) {
      const a = A[aRow + i];
      if (a === 0) continue;
      const cRow = cOffset + i * n;
      for (let j = 0; j < n; j++) C[cRow + j] += a * B[bRow + j];
    }
  }
};

/** C = A·Bᵀ: C[i,j] is the dot product of row i of A and row j of B. */
export const gemmNT: Gemm = (A, aOffset, B, bOffset, C, cOffset, m, k, n) => {
  for (let i = 0; i < m; i++) {
    const aRow = aOffset + i * k;
    const cRow = cOffset + i * n;
    for (let j = 0; j < n; j++) {
      const bRow = bOffset + j * k;
      let s = 0;
      for (let p = 0; p < k; p++) s += A[aRow + p] * B[bRow + p];
      C[cRow + j] = s;
    }
  }
};

/** The plain-JS kernels, the reference for any faster implementation. */
export const jsGemm: GemmKernels = { gemm, gemmTN, gemmNT };
