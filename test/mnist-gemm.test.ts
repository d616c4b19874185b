/** The dense kernels of the MNIST net against a naive triple loop. Another kernel
 * set (WebAssembly) joins the table to be held to the same results. */
import { describe, expect, it } from 'vitest';
import { jsGemm, type GemmKernels } from '../src/problems/mnist/gemm.js';
import { rng } from '../src/rng.js';

const KERNELS: [string, GemmKernels][] = [['js', jsGemm]];

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
