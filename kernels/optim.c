/*
 * Optimizer updates in float64, f64x2 SIMD: bit-for-bit the JS reference loops in
 * src/optimizers/{sgd,momentum,nesterov,adagrad,rmsprop,adam}.ts.
 *
 * Every update is elementwise over i ∈ [0, n):
 *
 *   sgd       W ← W − η·g
 *   momentum  v ← α·v − η·g ;  W ← W + v
 *   nesterov  W ← W + (α²·v − c·g) ;  v ← α·v − η·g          (α² and c = (1+α)·η from JS)
 *   adagrad   h ← h + g·g ;  W ← W − (η·g) / (√h + ε)
 *   rmsprop   h ← ρ·h + ((1−ρ)·g)·g ;  W ← W − (η·g) / (√h + ε)   (1−ρ from JS)
 *   adam      m ← m + a·(g − m) ;  v ← v + b·(g·g − v) ;  W ← W − (η_t·m) / (√v + ε)
 *             (a = 1−β₁, b = 1−β₂, η_t = η·√(1−β₂ᵗ)/(1−β₁ᵗ) from JS)
 *
 * Why this is exact: each expression is written with the same operands in the same
 * order as the JS loop (the parentheses above are JS's left-to-right evaluation), every
 * scalar that JS derives from the hyperparameters is derived in JS and passed in, the
 * build forbids FMA contraction (-ffp-contract=off) and reassociation (no -ffast-math),
 * and IEEE add/sub/mul/div/sqrt are correctly rounded in both JS and wasm, lane by lane.
 *
 * Pointers are byte offsets into the imported shared memory; W, g and the state arrays
 * must not overlap (each element is read before any array is written for that index,
 * so W === g would still be fine, but W aliasing a state array would not match JS).
 * No function here uses the C stack (no address-taken locals), so instances in several
 * threads may run on the same memory at once: see build.sh's check.
 */
#include <wasm_simd128.h>

/* Elements per f64x2 vector, and vectors per unrolled iteration: two independent
 * vectors per iteration keep two sqrt/div chains in flight. */
#define LANES 2
#define UNROLL 2
#define STEP (LANES * UNROLL)

typedef unsigned int size;

static inline v128_t ld(const double *p) { return wasm_v128_load(p); }
static inline void st(double *p, v128_t x) { wasm_v128_store(p, x); }

void sgd(double *restrict W, const double *restrict g, size n, double lr) {
  const v128_t lr2 = wasm_f64x2_splat(lr);
  size i = 0;
  for (; i + STEP <= n; i += STEP) {
    for (int u = 0; u < UNROLL; u++) {
      const size j = i + u * LANES;
      st(W + j, wasm_f64x2_sub(ld(W + j), wasm_f64x2_mul(lr2, ld(g + j))));
    }
  }
  for (; i < n; i++) W[i] = W[i] - lr * g[i];
}

void momentum(double *restrict W, const double *restrict g, double *restrict v, size n, double lr,
              double alpha) {
  const v128_t lr2 = wasm_f64x2_splat(lr), alpha2 = wasm_f64x2_splat(alpha);
  size i = 0;
  for (; i + STEP <= n; i += STEP) {
    for (int u = 0; u < UNROLL; u++) {
      const size j = i + u * LANES;
      const v128_t vi = wasm_f64x2_sub(wasm_f64x2_mul(alpha2, ld(v + j)), wasm_f64x2_mul(lr2, ld(g + j)));
      st(v + j, vi);
      st(W + j, wasm_f64x2_add(ld(W + j), vi));
    }
  }
  for (; i < n; i++) {
    const double vi = alpha * v[i] - lr * g[i];
    v[i] = vi;
    W[i] = W[i] + vi;
  }
}

void nesterov(double *restrict W, const double *restrict g, double *restrict v, size n, double lr,
              double alpha, double alphaSquared, double c) {
  const v128_t lr2 = wasm_f64x2_splat(lr), alpha2 = wasm_f64x2_splat(alpha);
  const v128_t a2 = wasm_f64x2_splat(alphaSquared), c2 = wasm_f64x2_splat(c);
  size i = 0;
  for (; i + STEP <= n; i += STEP) {
    for (int u = 0; u < UNROLL; u++) {
      const size j = i + u * LANES;
      const v128_t vi = ld(v + j), gi = ld(g + j);
      st(W + j, wasm_f64x2_add(ld(W + j), wasm_f64x2_sub(wasm_f64x2_mul(a2, vi), wasm_f64x2_mul(c2, gi))));
      st(v + j, wasm_f64x2_sub(wasm_f64x2_mul(alpha2, vi), wasm_f64x2_mul(lr2, gi)));
    }
  }
  for (; i < n; i++) {
    const double vi = v[i], gi = g[i];
    W[i] = W[i] + (alphaSquared * vi - c * gi);
    v[i] = alpha * vi - lr * gi;
  }
}

void adagrad(double *restrict W, const double *restrict g, double *restrict h, size n, double lr,
             double eps) {
  const v128_t lr2 = wasm_f64x2_splat(lr), eps2 = wasm_f64x2_splat(eps);
  size i = 0;
  for (; i + STEP <= n; i += STEP) {
    for (int u = 0; u < UNROLL; u++) {
      const size j = i + u * LANES;
      const v128_t gi = ld(g + j);
      const v128_t hi = wasm_f64x2_add(ld(h + j), wasm_f64x2_mul(gi, gi));
      st(h + j, hi);
      const v128_t step = wasm_f64x2_div(wasm_f64x2_mul(lr2, gi), wasm_f64x2_add(wasm_f64x2_sqrt(hi), eps2));
      st(W + j, wasm_f64x2_sub(ld(W + j), step));
    }
  }
  for (; i < n; i++) {
    const double gi = g[i];
    const double hi = h[i] + gi * gi;
    h[i] = hi;
    W[i] = W[i] - (lr * gi) / (__builtin_sqrt(hi) + eps);
  }
}

void rmsprop(double *restrict W, const double *restrict g, double *restrict h, size n, double lr,
             double rho, double oneMinusRho, double eps) {
  const v128_t lr2 = wasm_f64x2_splat(lr), eps2 = wasm_f64x2_splat(eps);
  const v128_t rho2 = wasm_f64x2_splat(rho), omr2 = wasm_f64x2_splat(oneMinusRho);
  size i = 0;
  for (; i + STEP <= n; i += STEP) {
    for (int u = 0; u < UNROLL; u++) {
      const size j = i + u * LANES;
      const v128_t gi = ld(g + j);
      const v128_t hi =
          wasm_f64x2_add(wasm_f64x2_mul(rho2, ld(h + j)), wasm_f64x2_mul(wasm_f64x2_mul(omr2, gi), gi));
      st(h + j, hi);
      const v128_t step = wasm_f64x2_div(wasm_f64x2_mul(lr2, gi), wasm_f64x2_add(wasm_f64x2_sqrt(hi), eps2));
      st(W + j, wasm_f64x2_sub(ld(W + j), step));
    }
  }
  for (; i < n; i++) {
    const double gi = g[i];
    const double hi = rho * h[i] + oneMinusRho * gi * gi;
    h[i] = hi;
    W[i] = W[i] - (lr * gi) / (__builtin_sqrt(hi) + eps);
  }
}

void adam(double *restrict W, const double *restrict g, double *restrict m, double *restrict v, size n,
          double lrT, double a, double b, double eps) {
  const v128_t lrT2 = wasm_f64x2_splat(lrT), eps2 = wasm_f64x2_splat(eps);
  const v128_t a2 = wasm_f64x2_splat(a), b2 = wasm_f64x2_splat(b);
  size i = 0;
  for (; i + STEP <= n; i += STEP) {
    for (int u = 0; u < UNROLL; u++) {
      const size j = i + u * LANES;
      const v128_t gi = ld(g + j), m0 = ld(m + j), v0 = ld(v + j);
      const v128_t mi = wasm_f64x2_add(m0, wasm_f64x2_mul(a2, wasm_f64x2_sub(gi, m0)));
      const v128_t vi = wasm_f64x2_add(v0, wasm_f64x2_mul(b2, wasm_f64x2_sub(wasm_f64x2_mul(gi, gi), v0)));
      st(m + j, mi);
      st(v + j, vi);
      const v128_t step = wasm_f64x2_div(wasm_f64x2_mul(lrT2, mi), wasm_f64x2_add(wasm_f64x2_sqrt(vi), eps2));
      st(W + j, wasm_f64x2_sub(ld(W + j), step));
    }
  }
  for (; i < n; i++) {
    const double gi = g[i];
    const double mi = m[i] + a * (gi - m[i]);
    const double vi = v[i] + b * (gi * gi - v[i]);
    m[i] = mi;
    v[i] = vi;
    W[i] = W[i] - (lrT * mi) / (__builtin_sqrt(vi) + eps);
  }
}
