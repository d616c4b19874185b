/*
 * The optimizer updates for one element type, included once per type by optim.c,
 * which defines before including:
 *
 *   T          the element type (float or double)
 *   LANES      elements per v128 (4 or 2)
 *   SFX(name)  name ## _f32 or name ## _f64
 *   V_ADD V_SUB V_MUL V_DIV V_SQRT V_SPLAT   the f32x4 or f64x2 operations
 *   SQRT(x)    the scalar square root of a T
 *
 * The math, and why each kernel rounds exactly as its reference loop, is in optim.c's
 * header.
 */

static inline v128_t SFX(ld)(const T *p) { return wasm_v128_load(p); }
static inline void SFX(st)(T *p, v128_t x) { wasm_v128_store(p, x); }
#define ld SFX(ld)
#define st SFX(st)

void SFX(sgd)(T *restrict W, const T *restrict g, size n, T lr) {
  const v128_t lrv = V_SPLAT(lr);
  size i = 0;
  for (; i + STEP <= n; i += STEP) {
    for (int u = 0; u < UNROLL; u++) {
      const size j = i + u * LANES;
      st(W + j, V_SUB(ld(W + j), V_MUL(lrv, ld(g + j))));
    }
  }
  for (; i < n; i++) W[i] = W[i] - lr * g[i];
}

void SFX(momentum)(T *restrict W, const T *restrict g, T *restrict v, size n, T lr, T alpha) {
  const v128_t lrv = V_SPLAT(lr), alphav = V_SPLAT(alpha);
  size i = 0;
  for (; i + STEP <= n; i += STEP) {
    for (int u = 0; u < UNROLL; u++) {
      const size j = i + u * LANES;
      const v128_t vi = V_SUB(V_MUL(alphav, ld(v + j)), V_MUL(lrv, ld(g + j)));
      st(v + j, vi);
      st(W + j, V_ADD(ld(W + j), vi));
    }
  }
  for (; i < n; i++) {
    const T vi = alpha * v[i] - lr * g[i];
    v[i] = vi;
    W[i] = W[i] + vi;
  }
}

void SFX(nesterov)(T *restrict W, const T *restrict g, T *restrict v, size n, T lr, T alpha,
                   T alphaSquared, T c) {
  const v128_t lrv = V_SPLAT(lr), alphav = V_SPLAT(alpha);
  const v128_t av = V_SPLAT(alphaSquared), cv = V_SPLAT(c);
  size i = 0;
  for (; i + STEP <= n; i += STEP) {
    for (int u = 0; u < UNROLL; u++) {
      const size j = i + u * LANES;
      const v128_t vi = ld(v + j), gi = ld(g + j);
      st(W + j, V_ADD(ld(W + j), V_SUB(V_MUL(av, vi), V_MUL(cv, gi))));
      st(v + j, V_SUB(V_MUL(alphav, vi), V_MUL(lrv, gi)));
    }
  }
  for (; i < n; i++) {
    const T vi = v[i], gi = g[i];
    W[i] = W[i] + (alphaSquared * vi - c * gi);
    v[i] = alpha * vi - lr * gi;
  }
}

void SFX(adagrad)(T *restrict W, const T *restrict g, T *restrict h, size n, T lr, T eps) {
  const v128_t lrv = V_SPLAT(lr), epsv = V_SPLAT(eps);
  size i = 0;
  for (; i + STEP <= n; i += STEP) {
    for (int u = 0; u < UNROLL; u++) {
      const size j = i + u * LANES;
      const v128_t gi = ld(g + j);
      const v128_t hi = V_ADD(ld(h + j), V_MUL(gi, gi));
      st(h + j, hi);
      const v128_t step = V_DIV(V_MUL(lrv, gi), V_ADD(V_SQRT(hi), epsv));
      st(W + j, V_SUB(ld(W + j), step));
    }
  }
  for (; i < n; i++) {
    const T gi = g[i];
    const T hi = h[i] + gi * gi;
    h[i] = hi;
    W[i] = W[i] - (lr * gi) / (SQRT(hi) + eps);
  }
}

void SFX(rmsprop)(T *restrict W, const T *restrict g, T *restrict h, size n, T lr, T rho,
                  T oneMinusRho, T eps) {
  const v128_t lrv = V_SPLAT(lr), epsv = V_SPLAT(eps);
  const v128_t rhov = V_SPLAT(rho), omrv = V_SPLAT(oneMinusRho);
  size i = 0;
  for (; i + STEP <= n; i += STEP) {
    for (int u = 0; u < UNROLL; u++) {
      const size j = i + u * LANES;
      const v128_t gi = ld(g + j);
      const v128_t hi =
          V_ADD(V_MUL(rhov, ld(h + j)), V_MUL(V_MUL(omrv, gi), gi));
      st(h + j, hi);
      const v128_t step = V_DIV(V_MUL(lrv, gi), V_ADD(V_SQRT(hi), epsv));
      st(W + j, V_SUB(ld(W + j), step));
    }
  }
  for (; i < n; i++) {
    const T gi = g[i];
    const T hi = rho * h[i] + oneMinusRho * gi * gi;
    h[i] = hi;
    W[i] = W[i] - (lr * gi) / (SQRT(hi) + eps);
  }
}

void SFX(adam)(T *restrict W, const T *restrict g, T *restrict m, T *restrict v, size n, T lrT,
               T a, T b, T eps) {
  const v128_t lrTv = V_SPLAT(lrT), epsv = V_SPLAT(eps);
  const v128_t av = V_SPLAT(a), bv = V_SPLAT(b);
  size i = 0;
  for (; i + STEP <= n; i += STEP) {
    for (int u = 0; u < UNROLL; u++) {
      const size j = i + u * LANES;
      const v128_t gi = ld(g + j), m0 = ld(m + j), v0 = ld(v + j);
      const v128_t mi = V_ADD(m0, V_MUL(av, V_SUB(gi, m0)));
      const v128_t vi = V_ADD(v0, V_MUL(bv, V_SUB(V_MUL(gi, gi), v0)));
      st(m + j, mi);
      st(v + j, vi);
      const v128_t step = V_DIV(V_MUL(lrTv, mi), V_ADD(V_SQRT(vi), epsv));
      st(W + j, V_SUB(ld(W + j), step));
    }
  }
  for (; i < n; i++) {
    const T gi = g[i];
    const T mi = m[i] + a * (gi - m[i]);
    const T vi = v[i] + b * (gi * gi - v[i]);
    m[i] = mi;
    v[i] = vi;
    W[i] = W[i] - (lrT * mi) / (SQRT(vi) + eps);
  }
}

#undef ld
#undef st
