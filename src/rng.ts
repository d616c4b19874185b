/**
 * Seeded pseudo-random numbers: a run's randomness is a function of its seed and of
 * what the numbers are for (a stream label), never of the thread that draws them.
 *
 * Generator: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator), seeded by
 * splitmix32 from a 32-bit FNV-1a hash of the seed and label.
 */

export interface Rng {
  /** Uniform in [0, 1), 32 bits of resolution. */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box–Muller). */
  normal(): number;
}

function fnv1a(text: string, h = 0x811c9dc5): number {
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function splitmix32(state: number): () => number {
  return () => {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** One step of sfc32 on its state [a, b, c, d]: the next u32 output. (Uint32Array
 * stores wrap modulo 2³², as the generator's arithmetic does.) */
function sfc32(s: Uint32Array): number {
  const t = (s[0] + s[1] + s[3]) >>> 0; // under 3·2³²: exact before the wrap
  s[3] = s[3] + 1;
  s[0] = s[1] ^ (s[1] >>> 9);
  s[1] = s[2] + (s[2] << 3);
  s[2] = ((s[2] << 21) | (s[2] >>> 11)) + t;
  return t;
}

/**
 * The generator state [a, b, c, d] that stream `label` of `seed` starts from (after
 * its warm-up): what `rng` draws from, and what a WebAssembly kernel that draws a
 * stream itself (the dropout masks) is given, so that its draws are this stream's.
 */
export function streamState(seed: number, label: string): Uint32Array {
  const mix = splitmix32(fnv1a(label, fnv1a(String(seed))));
  const s = Uint32Array.of(mix(), mix(), mix(), 1);
  for (let i = 0; i < 12; i++) sfc32(s);
  return s;
}

/** A generator for `seed` and stream `label` (e.g. "init", "batches", "trial:3:lr"). */
export function rng(seed: number, label: string): Rng {
  const s = streamState(seed, label);
  const u32 = (): number => sfc32(s);
  let spare: number | undefined;
  return {
    next: () => u32() / 4294967296,
    int: (n) => Math.floor((u32() / 4294967296) * n),
    normal() {
      if (spare !== undefined) {
        const z = spare;
        spare = undefined;
        return z;
      }
      let u = 0;
      while (u === 0) u = u32() / 4294967296;
      const r = Math.sqrt(-2 * Math.log(u));
      const theta = 2 * Math.PI * (u32() / 4294967296);
      spare = r * Math.sin(theta);
      return r * Math.cos(theta);
    },
  };
}
