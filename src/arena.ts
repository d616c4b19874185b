/**
 * A run's memory: a shared WebAssembly.Memory (its buffer a SharedArrayBuffer), so
 * the SIMD kernels run on the very arrays the run loop and the coordinator see.
 * Arrays are handed out front to back above the kernels' own region, each aligned to
 * a cache line; `release` takes back everything after a mark.
 */
import {
  KERNEL_HEAP_BASE,
  WASM32_MAX_PAGES,
  WASM_PAGE_BYTES,
  createSharedMemory,
  type KernelMemory,
} from './kernels/index.js';

/** Alignment of every array: a cache line (the kernels' SIMD loads want 16). */
const ALIGN_BYTES = 64;
const FLOAT64_BYTES = 8;
const FLOAT32_BYTES = 4;
/** The most a wasm32 memory can hold. */
export const MAX_ARENA_BYTES = WASM32_MAX_PAGES * WASM_PAGE_BYTES - KERNEL_HEAP_BASE;

const aligned = (bytes: number): number => Math.ceil(bytes / ALIGN_BYTES) * ALIGN_BYTES;

/** Bytes an arena needs to hand out float64 arrays of these lengths. */
export function arenaBytes(...lengths: number[]): number {
  return arenaBytesOf(FLOAT64_BYTES, lengths);
}

/** Bytes an arena needs to hand out arrays of these lengths, `elementBytes` each. */
export function arenaBytesOf(elementBytes: number, lengths: readonly number[]): number {
  return lengths.reduce((sum, n) => sum + aligned(n * elementBytes), 0);
}

export class Arena {
  private top = KERNEL_HEAP_BASE;

  constructor(readonly memory: KernelMemory) {}

  /** A new arena on a new memory of `bytes` usable bytes. */
  static create(bytes: number): Arena {
    return new Arena(createSharedMemory(bytes));
  }

  /** A float64 array of `length`, aligned, not zeroed. */
  f64(length: number): Float64Array {
    return new Float64Array(this.memory.buffer, this.take(length, FLOAT64_BYTES, 'float64'), length);
  }

  /** A float32 array of `length`, aligned, not zeroed. */
  f32(length: number): Float32Array {
    return new Float32Array(this.memory.buffer, this.take(length, FLOAT32_BYTES, 'float32'), length);
  }

  /** The byte offset of `length` elements of `elementBytes`, taken from the top. */
  private take(length: number, elementBytes: number, what: string): number {
    const bytes = aligned(length * elementBytes);
    if (this.top + bytes > this.memory.buffer.byteLength)
      throw new RangeError(
        `arena: ${length} ${what} needed, ${this.memory.buffer.byteLength - this.top} bytes left of ${this.memory.buffer.byteLength}`,
      );
    const start = this.top;
    this.top += bytes;
    return start;
  }

  mark(): number {
    return this.top;
  }

  /** Frees every array handed out since `mark` (their views must not be used again). */
  release(mark: number): void {
    this.top = mark;
  }
}
