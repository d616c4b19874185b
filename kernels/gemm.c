/*
 * Dense kernels for an MLP, in float32 (f32x4) and float64 (f64x2): every function
 * exists as name_f32 and name_f64. Matrices are dense row-major; pointers are byte
 * offsets into the imported shared memory; `accumulate` is 0 (C ← …) or 1 (C ← C + …).
 *
 *   gemm_nn(M, N, K, A, B, C, acc)   C[M×N] (+)= A[M×K] · B[K×N]      C_ij = Σ_k A_ik B_kj
 *   gemm_tn(M, N, K, A, B, C, acc)   C[M×N] (+)= A[K×M]ᵀ · B[K×N]     C_ij = Σ_k A_ki B_kj
 *   gemm_nt(M, N, K, A, B, C, acc)   C[M×N] (+)= A[M×K] · B[N×K]ᵀ     C_ij = Σ_k A_ik B_jk
 *   gemm_nn_sparse(M, N, K, A, B, C, acc, work)   as gemm_nn, skipping the exact zeros of A
 *   gemm_tn_sparse(M, N, K, A, B, C, acc, work)   as gemm_tn, skipping the exact zeros of A
 *                                    (work: LANES·K·(sizeof(T) + 4) bytes of scratch)
 *   bias_relu(M, N, b, Y)            Y_ij ← max(Y_ij + b_j, 0)
 *   bias_add(M, N, b, Y)             Y_ij ← Y_ij + b_j
 *   relu_backward(n, Y, dY, dX)      dX_i ← Y_i > 0 ? dY_i : 0          (dX may be dY)
 *   col_sums(M, N, dY, db, acc)      db_j (+)= Σ_i dY_ij
 *   transpose(M, N, A, B)            B[N×M] ← A[M×N]ᵀ                  (B_ji = A_ij)
 *   batch_norm_train, batch_norm_test, batch_norm_backward   the book's batch normalization,
 *                                    per column over the M rows (see gemm_impl.h)
 *   dropout(n, Y, state, threshold)  Y_i ← Y_i · [sfc32 draw > threshold]  (see gemm_impl.h)
 *   scale(n, s, Y)                   Y_i ← s · Y_i
 *
 * An affine layer Y = X·W + b is gemm_nn then bias_relu/bias_add; its backward pass is
 * dW = Xᵀ·dY (gemm_tn), db = col_sums(dY), dX = dY·Wᵀ (gemm_nt). The _sparse products
 * pay off when X is mostly zeros (MNIST pixels: 2–3× faster; ReLU outputs: 1.2–1.3×),
 * but a skipped 0 · ±Inf or 0 · NaN in B gives no NaN.
 *
 * C must not overlap A or B. gemm_nn and gemm_tn (dense or sparse) add each C_ij's
 * products in k order, one at a time (no FMA), so they equal the naive loop in the same
 * precision bit for bit; gemm_nt adds LANES interleaved partial sums and so differs from
 * it by rounding. No function uses the C stack (build.sh checks it), so several threads
 * may run their instances on one memory.
 */
#include <wasm_simd128.h>

typedef unsigned int size;

/* ---- float32 ---- */
#define T float
#define LANES 4
#define SFX(name) name##_f32
#define V_ADD wasm_f32x4_add
#define V_MUL wasm_f32x4_mul
#define V_MAX wasm_f32x4_max
#define V_GT wasm_f32x4_gt
#define V_LOAD_SPLAT wasm_v128_load32_splat
#define V_SUB wasm_f32x4_sub
#define V_DIV wasm_f32x4_div
#define V_SQRT wasm_f32x4_sqrt
#define V_NEG wasm_f32x4_neg
#define V_SPLAT wasm_f32x4_splat
/* The first `count` ∈ {1, 2, 3} floats of p, as whole 32- and 64-bit lane accesses
 * (a runtime lane index would send the vector through the C stack). */
static inline v128_t load_partial_f32(const float *p, size count) {
  switch (count) {
  case 1: return wasm_v128_load32_zero(p);
  case 2: return wasm_v128_load64_zero(p);
  default: return wasm_v128_load32_lane(p + 2, wasm_v128_load64_zero(p), 2);
  }
}
static inline void store_partial_f32(float *p, v128_t x, size count) {
  switch (count) {
  case 1: wasm_v128_store32_lane(p, x, 0); break;
  case 2: wasm_v128_store64_lane(p, x, 0); break;
  default: wasm_v128_store64_lane(p, x, 0); wasm_v128_store32_lane(p + 2, x, 2);
  }
}
/* [Σa0, Σa1, Σa2, Σa3] from four vectors: two rounds of pairwise lane sums. */
static inline v128_t hsum4_f32(const v128_t *a) {
  const v128_t s01 = wasm_f32x4_add(wasm_i32x4_shuffle(a[0], a[1], 0, 4, 1, 5), wasm_i32x4_shuffle(a[0], a[1], 2, 6, 3, 7));
  const v128_t s23 = wasm_f32x4_add(wasm_i32x4_shuffle(a[2], a[3], 0, 4, 1, 5), wasm_i32x4_shuffle(a[2], a[3], 2, 6, 3, 7));
  return wasm_f32x4_add(wasm_i64x2_shuffle(s01, s23, 0, 2), wasm_i64x2_shuffle(s01, s23, 1, 3));
}
#define V_HSUM hsum4_f32
/* The 4 × 4 block r[0..3] transposed in place: interleave pairs of rows, then halves. */
static inline void transpose4_f32(v128_t *r) {
  const v128_t t0 = wasm_i32x4_shuffle(r[0], r[1], 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r[0], r[1], 2, 6, 3, 7);
  const v128_t t2 = wasm_i32x4_shuffle(r[2], r[3], 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(r[2], r[3], 2, 6, 3, 7);
  r[0] = wasm_i64x2_shuffle(t0, t2, 0, 2);
  r[1] = wasm_i64x2_shuffle(t0, t2, 1, 3);
  r[2] = wasm_i64x2_shuffle(t1, t3, 0, 2);
  r[3] = wasm_i64x2_shuffle(t1, t3, 1, 3);
}
#define V_TRANSPOSE transpose4_f32
#ifndef NN_MR_F32
#define NN_MR_F32 4
#endif
#ifndef NN_NRV_F32
#define NN_NRV_F32 2
#endif
#ifndef NT_MR_F32
#define NT_MR_F32 2
#endif
#ifndef KC_F32
#define KC_F32 256
#endif
/* Six, not eight: with eight accumulators and eight loads V8 spills to its stack. */
#ifndef SPARSE_NRV_F32
#define SPARSE_NRV_F32 6
#endif
#define SPARSE_NRV SPARSE_NRV_F32
#define NN_MR NN_MR_F32
#define NN_NRV NN_NRV_F32
#define NT_MR NT_MR_F32
#define NT_NC LANES
#define KC KC_F32
#include "gemm_impl.h"
#undef T
#undef LANES
#undef SFX
#undef V_ADD
#undef V_MUL
#undef V_MAX
#undef V_GT
#undef V_LOAD_SPLAT
#undef V_SUB
#undef V_DIV
#undef V_SQRT
#undef V_NEG
#undef V_SPLAT
#undef V_HSUM
#undef V_TRANSPOSE
#undef NN_MR
#undef NN_NRV
#undef NT_MR
#undef NT_NC
#undef KC
#undef SPARSE_NRV

/* ---- float64 ---- */
#define T double
#define LANES 2
#define SFX(name) name##_f64
#define V_ADD wasm_f64x2_add
#define V_MUL wasm_f64x2_mul
#define V_MAX wasm_f64x2_max
#define V_GT wasm_f64x2_gt
#define V_LOAD_SPLAT wasm_v128_load64_splat
#define V_SUB wasm_f64x2_sub
#define V_DIV wasm_f64x2_div
#define V_SQRT wasm_f64x2_sqrt
#define V_NEG wasm_f64x2_neg
#define V_SPLAT wasm_f64x2_splat
/* The only partial f64x2 is one double. */
static inline v128_t load_partial_f64(const double *p, size count) {
  (void)count;
  return wasm_v128_load64_zero(p);
}
static inline void store_partial_f64(double *p, v128_t x, size count) {
  (void)count;
  wasm_v128_store64_lane(p, x, 0);
}
/* [Σa0, Σa1] from two vectors. */
static inline v128_t hsum2_f64(const v128_t *a) {
  return wasm_f64x2_add(wasm_i64x2_shuffle(a[0], a[1], 0, 2), wasm_i64x2_shuffle(a[0], a[1], 1, 3));
}
#define V_HSUM hsum2_f64
/* The 2 × 2 block r[0..1] transposed in place. */
static inline void transpose2_f64(v128_t *r) {
  const v128_t t0 = wasm_i64x2_shuffle(r[0], r[1], 0, 2), t1 = wasm_i64x2_shuffle(r[0], r[1], 1, 3);
  r[0] = t0;
  r[1] = t1;
}
#define V_TRANSPOSE transpose2_f64
#ifndef NN_MR_F64
#define NN_MR_F64 4
#endif
#ifndef NN_NRV_F64
#define NN_NRV_F64 2
#endif
#ifndef NT_MR_F64
#define NT_MR_F64 4
#endif
#ifndef KC_F64
#define KC_F64 256
#endif
#ifndef SPARSE_NRV_F64
#define SPARSE_NRV_F64 6
#endif
#define SPARSE_NRV SPARSE_NRV_F64
#define NN_MR NN_MR_F64
#define NN_NRV NN_NRV_F64
#define NT_MR NT_MR_F64
#define NT_NC LANES
#define KC KC_F64
#include "gemm_impl.h"
#undef T
#undef LANES
#undef SFX

