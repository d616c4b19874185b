/*
 * Optimizer updates in float64 (f64x2) and float32 (f32x4) SIMD: every function exists
 * as name_f64 and name_f32 (optim_impl.h, included once per type). The float64 ones
 * are bit for bit the JS reference loops in
 * src/optimizers/{sgd,momentum,nesterov,adagrad,rmsprop,adam}.ts; the float32 ones are
 * those loops with every operation rounded to float32 (and the scalars JS passes in
 * rounded to float32 once, at the call): what Math.fround around each operation gives.
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
 * and IEEE add/sub/mul/div/sqrt are correctly rounded in both JS and wasm, lane by lane
 * (in float32 too: rounding a float64 result of two float32 operands to float32 gives
 * the float32 operation's result, for each of these five operations).
 *
 * Pointers are byte offsets into the imported shared memory; W, g and the state arrays
 * must not overlap (each element is read before any array is written for that index,
 * so W === g would still be fine, but W aliasing a state array would not match JS).
 * No function here uses the C stack (no address-taken locals), so instances in several
 * threads may run on the same memory at once: see build.sh's check.
 */
#include <wasm_simd128.h>

/* Vectors per unrolled iteration: two independent vectors per iteration keep two
 * sqrt/div chains in flight. */
#define UNROLL 2
#define STEP (LANES * UNROLL)

typedef unsigned int size;

/* ---- float64 ---- */
#define T double
#define LANES 2
#define SFX(name) name##_f64
#define V_ADD wasm_f64x2_add
#define V_SUB wasm_f64x2_sub
#define V_MUL wasm_f64x2_mul
#define V_DIV wasm_f64x2_div
#define V_SQRT wasm_f64x2_sqrt
#define V_SPLAT wasm_f64x2_splat
#define SQRT __builtin_sqrt
#include "optim_impl.h"
#undef T
#undef LANES
#undef SFX
#undef V_ADD
#undef V_SUB
#undef V_MUL
#undef V_DIV
#undef V_SQRT
#undef V_SPLAT
#undef SQRT

/* ---- float32 ---- */
#define T float
#define LANES 4
#define SFX(name) name##_f32
#define V_ADD wasm_f32x4_add
#define V_SUB wasm_f32x4_sub
#define V_MUL wasm_f32x4_mul
#define V_DIV wasm_f32x4_div
#define V_SQRT wasm_f32x4_sqrt
#define V_SPLAT wasm_f32x4_splat
#define SQRT __builtin_sqrtf
#include "optim_impl.h"
