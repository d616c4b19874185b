#!/usr/bin/env bash
# Rebuilds kernels/*.wasm from the C sources beside this script. The .wasm files are
# committed, so only someone changing a kernel needs this (npm install never does).
#
# Needs clang and wasm-ld with the wasm32 target (Debian: `apt-get update && apt-get
# install -y clang lld`; built and checked with clang 14) and, for the checks at the
# end, wasm-objdump (`apt-get install -y wabt`).
#
# What the flags are for:
#   --target=wasm32 -msimd128        128-bit SIMD (f32x4, f64x2)
#   -matomics -mbulk-memory           required by wasm-ld for a shared memory
#   -O3 -ffp-contract=off             no FMA contraction: the optimizer kernels must round
#                                     exactly like the JS loops (no -ffast-math either)
#   -ffreestanding -nostdlib          no libc: every kernel is self-contained, and clang may
#                                     not turn loops into memset/memcpy calls
#   --no-entry                        a library, not a program
#   --import-memory --shared-memory   the memory is imported as env.memory (wasm-ld 14's
#                                     fixed import name) and must be a shared
#                                     WebAssembly.Memory, created by src/kernels/index.ts
#   --max-memory                      the largest memory the module accepts: the wasm32
#                                     limit, so callers choose their own maximum
#   --stack-first -z stack-size       the C stack takes the first STACK_BYTES of memory and
#                                     __heap_base (exported) is the first byte after it:
#                                     callers place their arrays at or above it
#   --export=NAME                     the kernels and __heap_base; nothing else
set -euo pipefail
cd "$(dirname "$0")"

# The reserved low end of the memory. src/kernels/index.ts checks __heap_base equals
# its KERNEL_HEAP_BASE, so change both together.
STACK_BYTES=65536
WASM32_MAX_MEMORY=4294967296

CFLAGS=(--target=wasm32 -O3 -msimd128 -matomics -mbulk-memory -ffp-contract=off
  -ffreestanding -nostdlib -Wall -Wextra -Werror)
LDFLAGS=(-Wl,--no-entry -Wl,--import-memory -Wl,--shared-memory
  "-Wl,--max-memory=$WASM32_MAX_MEMORY" -Wl,--stack-first "-Wl,-z,stack-size=$STACK_BYTES"
  -Wl,--export=__heap_base -Wl,--strip-debug)

OPTIM_EXPORTS=()
for kernel in sgd momentum nesterov adagrad rmsprop adam; do
  OPTIM_EXPORTS+=("${kernel}_f32" "${kernel}_f64")
done
GEMM_EXPORTS=()
for kernel in gemm_nn gemm_tn gemm_nt gemm_nn_sparse gemm_tn_sparse bias_relu bias_add relu_backward col_sums transpose \
  batch_norm_train batch_norm_test batch_norm_backward dropout scale; do
  GEMM_EXPORTS+=("${kernel}_f32" "${kernel}_f64")
done

build() { # out.wasm source.c export...
  local out=$1 src=$2
  shift 2
  local exports=()
  for name in "$@"; do exports+=("-Wl,--export=$name"); done
  clang "${CFLAGS[@]}" "${LDFLAGS[@]}" "${exports[@]}" -o "$out" "$src"
  echo "built $out ($(wc -c <"$out") bytes)"
}

build optim.wasm optim.c "${OPTIM_EXPORTS[@]}"
build gemm.wasm gemm.c "${GEMM_EXPORTS[@]}"

# Worker threads run their own instances on one shared memory, but every instance starts
# its __stack_pointer at the same address: a kernel that used the C stack would race
# with itself across threads. So no kernel may touch the stack pointer at all.
if command -v wasm-objdump >/dev/null; then
  for wasm in optim.wasm gemm.wasm; do
    if wasm-objdump -d "$wasm" | grep -q '__stack_pointer'; then
      echo "$wasm: a kernel uses the C stack (a spilled array or a runtime lane index?)" >&2
      wasm-objdump -d "$wasm" | grep -B2 '__stack_pointer' >&2
      exit 1
    fi
    wasm-objdump -x -j Import "$wasm" | grep -q 'shared <- env.memory' ||
      { echo "$wasm: expected a shared memory imported as env.memory" >&2; exit 1; }
  done
  echo "checked: no kernel uses the C stack; memory imported shared as env.memory"
else
  echo "wasm-objdump not found (apt-get install -y wabt): skipped the stack check" >&2
fi
