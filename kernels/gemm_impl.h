/*
 * The GEMM and MLP helper kernels for one element type, included once per type by
 * gemm.c. Before including, gemm.c defines:
 *
 *   T            the element type (float or double)
 *   LANES        elements per v128 (4 or 2)
 *   SFX(name)    name ## _f32 or name ## _f64
 *   V_ADD V_SUB V_MUL V_DIV V_SQRT V_NEG V_MAX V_GT V_SPLAT(x) V_LOAD_SPLAT(p)
 *                the f32x4 or f64x2 operations
 *   V_HSUM(a)    a vector of the horizontal sums of the LANES vectors a[0..LANES)
 *   SFX(load_partial)(p, count), SFX(store_partial)(p, x, count)   the first count < LANES
 *                elements, other lanes 0: never touch memory past the end of a row
 *   NN_MR NN_NRV  register tile of the NN/TN kernels: rows × vectors of columns
 *   NT_MR NT_NC   register tile of the NT kernel: rows × columns (NT_NC = LANES)
 *   KC            depth of a cache block: a K×(NN_NRV·LANES) panel of B stays in L1
 *   SPARSE_NRV    vectors of a row of C held in registers by the zero-skipping kernels
 *
 * All matrices are dense row-major; pointers are byte offsets into the shared memory.
 * `accumulate` = 0 overwrites C, 1 adds to it. The math is in gemm.c's header.
 */

#define TILE_COLS (NN_NRV * LANES)
#define INLINE static inline __attribute__((always_inline))

/*
 * One MR × (NRV·LANES) tile of C (+)= A·B over k ∈ [0, kc). A's element (i, k) is at
 * A[i·sAi + k·sAk], so the same code serves A (sAi = K, sAk = 1) and Aᵀ (sAi = 1,
 * sAk = M). B's row k starts at B + k·ldb. `tailLanes` > 0 makes the last column
 * vector partial (the N % LANES columns at the right edge of C).
 */
INLINE void SFX(tile_nn)(const int MR, const int NRV, size kc, const T *A, size sAi, size sAk, const T *B,
                         size ldb, T *C, size ldc, int accumulate, size tailLanes) {
  v128_t acc[NN_MR][NN_NRV];
#pragma clang loop unroll(full)
  for (int r = 0; r < MR; r++) {
#pragma clang loop unroll(full)
    for (int c = 0; c < NRV; c++) {
      T *p = C + r * ldc + c * LANES;
      const int partial = tailLanes && c == NRV - 1;
      acc[r][c] = !accumulate ? wasm_f64x2_splat(0.0)
                  : partial   ? SFX(load_partial)(p, tailLanes)
                              : wasm_v128_load(p);
    }
  }
  for (size k = 0; k < kc; k++) {
    const T *b = B + k * ldb;
    v128_t bv[NN_NRV];
#pragma clang loop unroll(full)
    for (int c = 0; c < NRV; c++)
      bv[c] = tailLanes && c == NRV - 1 ? SFX(load_partial)(b + c * LANES, tailLanes) : wasm_v128_load(b + c * LANES);
    const T *a = A + k * sAk;
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
      const v128_t ar = V_LOAD_SPLAT(a + r * sAi);
#pragma clang loop unroll(full)
      for (int c = 0; c < NRV; c++) acc[r][c] = V_ADD(acc[r][c], V_MUL(ar, bv[c]));
    }
  }
#pragma clang loop unroll(full)
  for (int r = 0; r < MR; r++) {
#pragma clang loop unroll(full)
    for (int c = 0; c < NRV; c++) {
      T *p = C + r * ldc + c * LANES;
      if (tailLanes && c == NRV - 1)
        SFX(store_partial)(p, acc[r][c], tailLanes);
      else
        wasm_v128_store(p, acc[r][c]);
    }
  }
}

/* The rows of one column panel, MR at a time, then the leftover rows one at a time. */
INLINE void SFX(panel_nn)(const int NRV, size M, size kc, const T *A, size sAi, size sAk, const T *B, size ldb,
                          T *C, size ldc, int accumulate, size tailLanes) {
  size i = 0;
  for (; i + NN_MR <= M; i += NN_MR)
    SFX(tile_nn)(NN_MR, NRV, kc, A + i * sAi, sAi, sAk, B, ldb, C + i * ldc, ldc, accumulate, tailLanes);
  for (; i < M; i++) SFX(tile_nn)(1, NRV, kc, A + i * sAi, sAi, sAk, B, ldb, C + i * ldc, ldc, accumulate, tailLanes);
}

/*
 * C (+)= op(A)·B with op(A)(i, k) = A[i·sAi + k·sAk], blocked by KC in depth (the
 * first block honours `accumulate`, later ones add) and by TILE_COLS in width. Within
 * a depth block each column panel of B (kc × TILE_COLS) is reused by all M rows from L1.
 */
static void SFX(gemm_strided)(size M, size N, size K, const T *A, size sAi, size sAk, const T *B, T *C,
                              int accumulate) {
  if (K == 0) {
    if (!accumulate)
      for (size i = 0; i < M * N; i++) C[i] = 0;
    return;
  }
  const size fullPanels = N / TILE_COLS;
  const size restVectors = (N % TILE_COLS) / LANES;
  const size tailLanes = N % LANES;
  for (size k0 = 0; k0 < K; k0 += KC) {
    const size kc = K - k0 < KC ? K - k0 : KC;
    const int acc = accumulate || k0 > 0;
    const T *Ak = A + k0 * sAk;
    const T *Bk = B + k0 * N;
    for (size p = 0; p < fullPanels; p++)
      SFX(panel_nn)(NN_NRV, M, kc, Ak, sAi, sAk, Bk + p * TILE_COLS, N, C + p * TILE_COLS, N, acc, 0);
    size j = fullPanels * TILE_COLS;
    for (size v = 0; v < restVectors; v++, j += LANES)
      SFX(panel_nn)(1, M, kc, Ak, sAi, sAk, Bk + j, N, C + j, N, acc, 0);
    if (tailLanes) SFX(panel_nn)(1, M, kc, Ak, sAi, sAk, Bk + j, N, C + j, N, acc, tailLanes);
  }
}

void SFX(gemm_nn)(size M, size N, size K, const T *A, const T *B, T *C, int accumulate) {
  SFX(gemm_strided)(M, N, K, A, K, 1, B, C, accumulate);
}

void SFX(gemm_tn)(size M, size N, size K, const T *A, const T *B, T *C, int accumulate) {
  SFX(gemm_strided)(M, N, K, A, 1, M, B, C, accumulate);
}

/*
 * ZERO-SKIPPING PRODUCTS. op(A) is often mostly exact zeros (MNIST pixels: ~80%; ReLU
 * outputs: ~50%), and a zero a_ik contributes nothing to row i of C. So for each row
 * of op(A) the nonzeros are first compacted into the caller's `work` (values, then
 * the byte offsets of the matching rows of B: LANES·K·(sizeof(T) + 4) bytes at most),
 * branch-free; then each chunk of C's row is accumulated in registers over the
 * nonzeros only.
 * Skipping 0·b changes no finite result, but drops the NaN that 0·±Inf or 0·NaN in B
 * would give: callers who need that must check B themselves.
 */
INLINE void SFX(sparse_chunk)(const int NRV, size nz, const T *vals, const size *offsets, const T *B, T *c,
                              int accumulate, size tailLanes) {
  v128_t acc[SPARSE_NRV];
#pragma clang loop unroll(full)
  for (int v = 0; v < NRV; v++) {
    const int partial = tailLanes && v == NRV - 1;
    acc[v] = !accumulate ? wasm_f64x2_splat(0.0)
             : partial   ? SFX(load_partial)(c + v * LANES, tailLanes)
                         : wasm_v128_load(c + v * LANES);
  }
  for (size q = 0; q < nz; q++) {
    const v128_t a = V_LOAD_SPLAT(vals + q);
    const T *b = (const T *)((const char *)B + offsets[q]);
#pragma clang loop unroll(full)
    for (int v = 0; v < NRV; v++) {
      const v128_t bv = tailLanes && v == NRV - 1 ? SFX(load_partial)(b + v * LANES, tailLanes) : wasm_v128_load(b + v * LANES);
      acc[v] = V_ADD(acc[v], V_MUL(a, bv));
    }
  }
#pragma clang loop unroll(full)
  for (int v = 0; v < NRV; v++) {
    if (tailLanes && v == NRV - 1)
      SFX(store_partial)(c + v * LANES, acc[v], tailLanes);
    else
      wasm_v128_store(c + v * LANES, acc[v]);
  }
}

/* The nonzeros of op(A)'s row i (elements a[k·sAk]) into vals/offsets; their count. */
INLINE size SFX(compact_row)(size K, const T *a, size sAk, size rowBytes, T *vals, size *offsets) {
  size nz = 0;
  size k = 0;
  if (sAk == 1) {
    /* Contiguous rows: whole vectors of zeros (long runs in images) cost one test. */
    for (; k + LANES <= K; k += LANES) {
      if (!wasm_v128_any_true(wasm_v128_load(a + k))) continue;
#pragma clang loop unroll(full)
      for (int u = 0; u < LANES; u++) {
        const T x = a[k + u];
        vals[nz] = x;
        offsets[nz] = (k + u) * rowBytes;
        nz += x != 0;
      }
    }
  }
  for (; k < K; k++) {
    const T x = a[k * sAk];
    vals[nz] = x;
    offsets[nz] = k * rowBytes;
    nz += x != 0;
  }
  return nz;
}

/* Row i of C from the compacted nonzeros of row i of op(A): C's row in chunks of
 * SPARSE_NRV vectors, then 4, 2, 1, then the partial vector. Not inlined: it has
 * several callers, and a call per row costs nothing measurable. */
static __attribute__((noinline)) void SFX(sparse_row)(size N, size nz, const T *vals, const size *offsets, const T *B, T *c, int accumulate) {
  const size fullVectors = N / LANES, tailLanes = N % LANES;
  size v = 0;
  for (; v + SPARSE_NRV <= fullVectors; v += SPARSE_NRV)
    SFX(sparse_chunk)(SPARSE_NRV, nz, vals, offsets, B + v * LANES, c + v * LANES, accumulate, 0);
  if (v + 4 <= fullVectors) {
    SFX(sparse_chunk)(4, nz, vals, offsets, B + v * LANES, c + v * LANES, accumulate, 0);
    v += 4;
  }
  if (v + 2 <= fullVectors) {
    SFX(sparse_chunk)(2, nz, vals, offsets, B + v * LANES, c + v * LANES, accumulate, 0);
    v += 2;
  }
  if (v < fullVectors) {
    SFX(sparse_chunk)(1, nz, vals, offsets, B + v * LANES, c + v * LANES, accumulate, 0);
    v += 1;
  }
  if (tailLanes) SFX(sparse_chunk)(1, nz, vals, offsets, B + v * LANES, c + v * LANES, accumulate, tailLanes);
}

void SFX(gemm_nn_sparse)(size M, size N, size K, const T *A, const T *B, T *C, int accumulate, void *work) {
  T *vals = work;
  size *offsets = (size *)(vals + K);
  for (size i = 0; i < M; i++) {
    const size nz = SFX(compact_row)(K, A + i * K, 1, N * sizeof(T), vals, offsets);
    SFX(sparse_row)(N, nz, vals, offsets, B, C + i * N, accumulate);
  }
}

/*
 * Aᵀ's rows are A's columns, strided in memory; but LANES neighbouring columns are
 * contiguous, and in images they are zero together. So LANES rows of Aᵀ are compacted
 * at once (each into its own part of `work`), skipping the k where all are zero with
 * one vector test.
 */
void SFX(gemm_tn_sparse)(size M, size N, size K, const T *A, const T *B, T *C, int accumulate, void *work) {
  T *vals = work;
  size *offsets = (size *)(vals + LANES * K);
  const size rowBytes = N * sizeof(T);
  size i = 0;
  for (; i + LANES <= M; i += LANES) {
    size nz[LANES] = {0};
    for (size k = 0; k < K; k++) {
      const T *a = A + k * M + i;
      if (!wasm_v128_any_true(wasm_v128_load(a))) continue;
#pragma clang loop unroll(full)
      for (int r = 0; r < LANES; r++) {
        const T x = a[r];
        vals[r * K + nz[r]] = x;
        offsets[r * K + nz[r]] = k * rowBytes;
        nz[r] += x != 0;
      }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < LANES; r++)
      SFX(sparse_row)(N, nz[r], vals + r * K, offsets + r * K, B, C + (i + r) * N, accumulate);
  }
  for (; i < M; i++) {
    const size nz = SFX(compact_row)(K, A + i, M, rowBytes, vals, offsets);
    SFX(sparse_row)(N, nz, vals, offsets, B, C + i * N, accumulate);
  }
}

/*
 * One MR × NT_NC tile of C (+)= A·Bᵀ: dot products of rows of A with rows of B,
 * vectorised along k and reduced horizontally once at the end into one vector per
 * row of C (NT_NC = LANES consecutive columns). The K % LANES tail enters as one more
 * zero-padded vector. When only `cols` < NT_NC rows of B are left, the missing ones
 * repeat the last row (so no load leaves B) and only `cols` columns are stored.
 */
INLINE void SFX(tile_nt)(const int MR, size K, const T *A, const T *B, T *C, size ldc, int accumulate, size cols) {
  const T *Brow[NT_NC];
#pragma clang loop unroll(full)
  for (int c = 0; c < NT_NC; c++) Brow[c] = B + ((size)c < cols ? (size)c : cols - 1) * K;
  v128_t acc[NT_MR][NT_NC];
#pragma clang loop unroll(full)
  for (int r = 0; r < MR; r++)
#pragma clang loop unroll(full)
    for (int c = 0; c < NT_NC; c++) acc[r][c] = wasm_f64x2_splat(0.0);
  const size kFull = K - K % LANES;
  size k = 0;
  for (; k < kFull; k += LANES) {
    v128_t bv[NT_NC];
#pragma clang loop unroll(full)
    for (int c = 0; c < NT_NC; c++) bv[c] = wasm_v128_load(Brow[c] + k);
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
      const v128_t ar = wasm_v128_load(A + r * K + k);
#pragma clang loop unroll(full)
      for (int c = 0; c < NT_NC; c++) acc[r][c] = V_ADD(acc[r][c], V_MUL(ar, bv[c]));
    }
  }
  if (k < K) {
    const size rest = K - k;
    v128_t bv[NT_NC];
#pragma clang loop unroll(full)
    for (int c = 0; c < NT_NC; c++) bv[c] = SFX(load_partial)(Brow[c] + k, rest);
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
      const v128_t ar = SFX(load_partial)(A + r * K + k, rest);
#pragma clang loop unroll(full)
      for (int c = 0; c < NT_NC; c++) acc[r][c] = V_ADD(acc[r][c], V_MUL(ar, bv[c]));
    }
  }
#pragma clang loop unroll(full)
  for (int r = 0; r < MR; r++) {
    v128_t sums = V_HSUM(acc[r]);
    T *p = C + r * ldc;
    if (cols == NT_NC) {
      if (accumulate) sums = V_ADD(sums, wasm_v128_load(p));
      wasm_v128_store(p, sums);
    } else {
      if (accumulate) sums = V_ADD(sums, SFX(load_partial)(p, cols));
      SFX(store_partial)(p, sums, cols);
    }
  }
}

/* C (+)= A·Bᵀ, NT_NC rows of B (columns of C) at a time, NT_MR rows of A within. */
void SFX(gemm_nt)(size M, size N, size K, const T *A, const T *B, T *C, int accumulate) {
  for (size j = 0; j < N; j += NT_NC) {
    const size cols = N - j < NT_NC ? N - j : NT_NC;
    const T *Bj = B + j * K;
    size i = 0;
    for (; i + NT_MR <= M; i += NT_MR) SFX(tile_nt)(NT_MR, K, A + i * K, Bj, C + i * N + j, N, accumulate, cols);
    for (; i < M; i++) SFX(tile_nt)(1, K, A + i * K, Bj, C + i * N + j, N, accumulate, cols);
  }
}

/* Y[i,j] ← Y[i,j] + b[j], then (when `relu`) max(·, 0); NaN stays NaN, −0 becomes +0
 * (the book's ReLU: out[x <= 0] = 0). */
INLINE void SFX(bias_act)(size M, size N, const T *b, T *Y, const int relu) {
  const v128_t zero = wasm_f64x2_splat(0.0);
  const size full = N - N % LANES, tail = N % LANES;
  for (size i = 0; i < M; i++) {
    T *y = Y + i * N;
    size j = 0;
    for (; j < full; j += LANES) {
      v128_t x = V_ADD(wasm_v128_load(y + j), wasm_v128_load(b + j));
      wasm_v128_store(y + j, relu ? V_MAX(x, zero) : x);
    }
    if (tail) {
      v128_t x = V_ADD(SFX(load_partial)(y + j, tail), SFX(load_partial)(b + j, tail));
      SFX(store_partial)(y + j, relu ? V_MAX(x, zero) : x, tail);
    }
  }
}

void SFX(bias_relu)(size M, size N, const T *b, T *Y) { SFX(bias_act)(M, N, b, Y, 1); }
void SFX(bias_add)(size M, size N, const T *b, T *Y) { SFX(bias_act)(M, N, b, Y, 0); }

/* dX[i] ← Y[i] > 0 ? dY[i] : 0, with Y the ReLU's output (Y > 0 exactly where its
 * input was > 0). dX may be dY. */
void SFX(relu_backward)(size n, const T *Y, const T *dY, T *dX) {
  const v128_t zero = wasm_f64x2_splat(0.0);
  const size full = n - n % LANES, tail = n % LANES;
  size i = 0;
  for (; i < full; i += LANES)
    wasm_v128_store(dX + i, wasm_v128_and(wasm_v128_load(dY + i), V_GT(wasm_v128_load(Y + i), zero)));
  if (tail)
    SFX(store_partial)(dX + i, wasm_v128_and(SFX(load_partial)(dY + i, tail), V_GT(SFX(load_partial)(Y + i, tail), zero)),
                       tail);
}

/* Column vectors summed together by col_sums: independent add chains hide latency. */
#define COLSUM_NRV 4

/* db[j] (+)= Σ_i dY[i,j]: the bias gradient of an affine layer. */
void SFX(col_sums)(size M, size N, const T *dY, T *db, int accumulate) {
  const size full = N - N % LANES, tail = N % LANES;
  size j = 0;
  for (; j + COLSUM_NRV * LANES <= full; j += COLSUM_NRV * LANES) {
    v128_t s[COLSUM_NRV];
#pragma clang loop unroll(full)
    for (int c = 0; c < COLSUM_NRV; c++) s[c] = accumulate ? wasm_v128_load(db + j + c * LANES) : wasm_f64x2_splat(0.0);
    for (size i = 0; i < M; i++)
#pragma clang loop unroll(full)
      for (int c = 0; c < COLSUM_NRV; c++) s[c] = V_ADD(s[c], wasm_v128_load(dY + i * N + j + c * LANES));
#pragma clang loop unroll(full)
    for (int c = 0; c < COLSUM_NRV; c++) wasm_v128_store(db + j + c * LANES, s[c]);
  }
  for (; j < full; j += LANES) {
    v128_t s = accumulate ? wasm_v128_load(db + j) : wasm_f64x2_splat(0.0);
    for (size i = 0; i < M; i++) s = V_ADD(s, wasm_v128_load(dY + i * N + j));
    wasm_v128_store(db + j, s);
  }
  if (tail) {
    v128_t s = accumulate ? SFX(load_partial)(db + j, tail) : wasm_f64x2_splat(0.0);
    for (size i = 0; i < M; i++) s = V_ADD(s, SFX(load_partial)(dY + i * N + j, tail));
    SFX(store_partial)(db + j, s, tail);
  }
}

/* B[N×M] ← A[M×N]ᵀ, in LANES × LANES blocks transposed in registers (V_TRANSPOSE),
 * scalar at the edges. Lets a product with Bᵀ use the zero-skipping nn: A·Bᵀ is
 * gemm_nn_sparse(A, transpose(B)). */
void SFX(transpose)(size M, size N, const T *A, T *B) {
  const size mFull = M - M % LANES, nFull = N - N % LANES;
  for (size i = 0; i < mFull; i += LANES) {
    size j = 0;
    for (; j < nFull; j += LANES) {
      v128_t rows[LANES];
#pragma clang loop unroll(full)
      for (int r = 0; r < LANES; r++) rows[r] = wasm_v128_load(A + (i + r) * N + j);
      V_TRANSPOSE(rows);
#pragma clang loop unroll(full)
      for (int r = 0; r < LANES; r++) wasm_v128_store(B + (j + r) * M + i, rows[r]);
    }
    for (; j < N; j++)
#pragma clang loop unroll(full)
      for (int r = 0; r < LANES; r++) B[j * M + i + r] = A[(i + r) * N + j];
  }
  for (size i = mFull; i < M; i++)
    for (size j = 0; j < N; j++) B[j * M + i] = A[i * N + j];
}

/* The first `cols` ≤ LANES elements at p: a whole vector, or the partial one at a row's end. */
INLINE v128_t SFX(load_cols)(const T *p, size cols) {
  return cols == LANES ? wasm_v128_load(p) : SFX(load_partial)(p, cols);
}
INLINE void SFX(store_cols)(T *p, v128_t x, size cols) {
  if (cols == LANES)
    wasm_v128_store(p, x);
  else
    SFX(store_partial)(p, x, cols);
}

/*
 * BATCH NORMALIZATION, the book's BatchNormalization layer, per column j of the M×N
 * matrix Y (its rows are the minibatch). LANES columns at a time, each held in
 * registers down the rows, so no scratch: the column sums are accumulated in row
 * order, as a plain loop over i would.
 *
 * batch_norm_train(M, N, Y, gamma, beta, xc, stdev, mean, var, momentum, eps, relu):
 *   μ = Σᵢ Yᵢⱼ / M;  xcᵢⱼ = Yᵢⱼ − μ;  σ² = Σᵢ xcᵢⱼ·xcᵢⱼ / M;  s = √(σ² + ε)
 *   Yᵢⱼ ← γⱼ·(xcᵢⱼ / s) + βⱼ, then max(·, 0) if `relu`;  stdevⱼ = s
 *   meanⱼ ← m·meanⱼ + (1 − m)·μ;  varⱼ ← m·varⱼ + (1 − m)·σ²      (m = momentum)
 * xc (M×N) and stdev (N) are what the backward pass needs.
 */
void SFX(batch_norm_train)(size M, size N, T *Y, const T *gamma, const T *beta, T *xc, T *stdev, T *mean, T *var,
                           T momentum, T eps, int relu) {
  const v128_t zero = wasm_f64x2_splat(0.0), rows = V_SPLAT((T)M), e = V_SPLAT(eps);
  const v128_t m = V_SPLAT(momentum), m1 = V_SPLAT((T)1 - momentum);
  for (size j = 0; j < N; j += LANES) {
    const size cols = N - j < LANES ? N - j : LANES;
    v128_t sum = zero;
    for (size i = 0; i < M; i++) sum = V_ADD(sum, SFX(load_cols)(Y + i * N + j, cols));
    const v128_t mu = V_DIV(sum, rows);
    v128_t squares = zero;
    for (size i = 0; i < M; i++) {
      const v128_t d = V_SUB(SFX(load_cols)(Y + i * N + j, cols), mu);
      SFX(store_cols)(xc + i * N + j, d, cols);
      squares = V_ADD(squares, V_MUL(d, d));
    }
    const v128_t variance = V_DIV(squares, rows);
    const v128_t s = V_SQRT(V_ADD(variance, e));
    const v128_t g = SFX(load_cols)(gamma + j, cols), b = SFX(load_cols)(beta + j, cols);
    for (size i = 0; i < M; i++) {
      const v128_t y = V_ADD(V_MUL(g, V_DIV(SFX(load_cols)(xc + i * N + j, cols), s)), b);
      SFX(store_cols)(Y + i * N + j, relu ? V_MAX(y, zero) : y, cols);
    }
    SFX(store_cols)(stdev + j, s, cols);
    SFX(store_cols)(mean + j, V_ADD(V_MUL(m, SFX(load_cols)(mean + j, cols)), V_MUL(m1, mu)), cols);
    SFX(store_cols)(var + j, V_ADD(V_MUL(m, SFX(load_cols)(var + j, cols)), V_MUL(m1, variance)), cols);
  }
}

/* batch_norm_test(M, N, Y, gamma, beta, mean, var, eps, relu): the test pass, on the
 * running averages:  Yᵢⱼ ← γⱼ·((Yᵢⱼ − meanⱼ) / √(varⱼ + ε)) + βⱼ, then ReLU if `relu`. */
void SFX(batch_norm_test)(size M, size N, T *Y, const T *gamma, const T *beta, const T *mean, const T *var, T eps,
                          int relu) {
  const v128_t zero = wasm_f64x2_splat(0.0), e = V_SPLAT(eps);
  for (size j = 0; j < N; j += LANES) {
    const size cols = N - j < LANES ? N - j : LANES;
    const v128_t mu = SFX(load_cols)(mean + j, cols);
    const v128_t s = V_SQRT(V_ADD(SFX(load_cols)(var + j, cols), e));
    const v128_t g = SFX(load_cols)(gamma + j, cols), b = SFX(load_cols)(beta + j, cols);
    for (size i = 0; i < M; i++) {
      T *y = Y + i * N + j;
      const v128_t out = V_ADD(V_MUL(g, V_DIV(V_SUB(SFX(load_cols)(y, cols), mu), s)), b);
      SFX(store_cols)(y, relu ? V_MAX(out, zero) : out, cols);
    }
  }
}

/*
 * batch_norm_backward(M, N, dY, xc, gamma, stdev, dgamma, dbeta, dX): the book's
 * backward pass, from dY (the gradient of the layer's output) and the xc, stdev
 * of batch_norm_train:
 *   dβ = Σᵢ dY;  dγ = Σᵢ (xc/s)·dY;  dstd = −Σᵢ (γ·dY·xc)/(s·s);  dvar = 0.5·dstd/s
 *   dxc = γ·dY/s + (2/M)·xc·dvar;  dμ = Σᵢ dxc;  dX = dxc − dμ/M
 * dX may be dY (each element is read before it is written).
 */
void SFX(batch_norm_backward)(size M, size N, const T *dY, const T *xc, const T *gamma, const T *stdev, T *dgamma,
                              T *dbeta, T *dX) {
  const v128_t zero = wasm_f64x2_splat(0.0), rows = V_SPLAT((T)M), two = V_SPLAT((T)2 / (T)M);
  const v128_t half = V_SPLAT((T)0.5);
  for (size j = 0; j < N; j += LANES) {
    const size cols = N - j < LANES ? N - j : LANES;
    const v128_t g = SFX(load_cols)(gamma + j, cols), s = SFX(load_cols)(stdev + j, cols);
    const v128_t ss = V_MUL(s, s);
    v128_t sdy = zero, sdg = zero, sds = zero;
    for (size i = 0; i < M; i++) {
      const v128_t dy = SFX(load_cols)(dY + i * N + j, cols), x = SFX(load_cols)(xc + i * N + j, cols);
      sdy = V_ADD(sdy, dy);
      sdg = V_ADD(sdg, V_MUL(V_DIV(x, s), dy));
      sds = V_ADD(sds, V_DIV(V_MUL(V_MUL(g, dy), x), ss));
    }
    SFX(store_cols)(dbeta + j, sdy, cols);
    SFX(store_cols)(dgamma + j, sdg, cols);
    const v128_t dvar = V_DIV(V_MUL(half, V_NEG(sds)), s);
    v128_t dmu = zero;
    for (size i = 0; i < M; i++) {
      const v128_t dy = SFX(load_cols)(dY + i * N + j, cols), x = SFX(load_cols)(xc + i * N + j, cols);
      const v128_t dxc = V_ADD(V_DIV(V_MUL(g, dy), s), V_MUL(V_MUL(two, x), dvar));
      SFX(store_cols)(dX + i * N + j, dxc, cols);
      dmu = V_ADD(dmu, dxc);
    }
    const v128_t shift = V_DIV(dmu, rows);
    for (size i = 0; i < M; i++) {
      T *d = dX + i * N + j;
      SFX(store_cols)(d, V_SUB(SFX(load_cols)(d, cols), shift), cols);
    }
  }
}

/*
 * DROPOUT, the book's Dropout layer in training: Yᵢ ← Yᵢ·[uᵢ > ratio] for uniform uᵢ,
 * the uᵢ drawn in order from an sfc32 generator whose state (a, b, c, d: four u32)
 * is at `state` and is advanced in place. sfc32 is src/rng.ts's generator, and
 * uᵢ > ratio ⟺ its u32 output > threshold = ⌊ratio·2³²⌋, so a run's masks are the
 * JS stream's `next() > ratio`, draw for draw.
 */
void SFX(dropout)(size n, T *Y, unsigned *state, unsigned threshold) {
  unsigned a = state[0], b = state[1], c = state[2], d = state[3];
  for (size i = 0; i < n; i++) {
    const unsigned t = a + b + d;
    d += 1;
    a = b ^ (b >> 9);
    b = c + (c << 3);
    c = (c << 21) | (c >> 11);
    c += t;
    Y[i] = Y[i] * (T)(t > threshold);
  }
  state[0] = a;
  state[1] = b;
  state[2] = c;
  state[3] = d;
}

/* scale(n, s, Y): Yᵢ ← s·Yᵢ (dropout's test pass scales by 1 − ratio). */
void SFX(scale)(size n, T s, T *Y) {
  const v128_t sv = V_SPLAT(s);
  const size full = n - n % LANES, tail = n % LANES;
  size i = 0;
  for (; i < full; i += LANES) wasm_v128_store(Y + i, V_MUL(sv, wasm_v128_load(Y + i)));
  if (tail) SFX(store_partial)(Y + i, V_MUL(sv, SFX(load_partial)(Y + i, tail)), tail);
}

#undef TILE_COLS
#undef INLINE
#undef COLSUM_NRV
