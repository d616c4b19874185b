/**
 * What of a CSV is known good: at every sync the manifest records the durable prefix
 * (`Durable`): its length, its sha256, and a checksum of each block of lines, so that
 * `--resume` can tell a prefix changed since (a cell edited, a row appended or moved)
 * and name the first line that changed. Lines past the last sync were never vouched
 * for: resume runs them again.
 *
 * Block checksums: each line (header included, with its line end) has a 32-bit
 * FNV-1a hash; a block's checksum is the sum of its lines' hashes, mod 2^32. Blocks
 * start one line long and double (two neighbours' sums add up) whenever there would
 * be more than MAX_BLOCKS, so the record stays small for any length of sweep while a
 * short sweep names the very line. The sha256 catches what sums cannot (two lines
 * swapped inside a block).
 */
import { createHash, type Hash } from 'node:crypto';

/** Most block checksums recorded: the manifest grows by at most ~11 KB. */
const MAX_BLOCKS = 1024;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const NEWLINE = 0x0a;

export interface Durable {
  /** Bytes of the CSV known to be on disk (a whole number of lines). */
  readonly bytes: number;
  /** Lines in them, the header included. */
  readonly lines: number;
  /** sha256 of those bytes, hex. */
  readonly sha256: string;
  /** Lines per block (a power of two); the last block may hold fewer. */
  readonly blockLines: number;
  /** Each block's checksum. */
  readonly sums: readonly number[];
}

/** The running digest of a file written front to back. */
export class PrefixDigest {
  private readonly hash: Hash = createHash('sha256');
  private bytes = 0;
  /** Bytes up to the end of the last whole line. */
  private wholeBytes = 0;
  /** Whole lines so far. */
  private lines = 0;
  /** The hash of the line in progress (int32). */
  private lineHash = FNV_OFFSET | 0;
  private blockLines = 1;
  /** The checksums of the blocks closed so far. */
  private readonly sums: number[] = [];
  /** The block in progress: its checksum (int32) and lines. */
  private blockSum = 0;
  private inBlock = 0;

  /** Takes the next bytes of the file. */
  update(bytes: Uint8Array): void {
    this.hash.update(bytes);
    // Locals, kept int32 (`>>> 0` would make them doubles): this is the hot path of
    // a sweep of tiny runs, tens of MB a second.
    let h = this.lineHash;
    let sum = this.blockSum;
    let inBlock = this.inBlock;
    let last = -1;
    const n = bytes.length;
    for (let i = 0; i < n; i++) {
      const c = bytes[i];
      h = Math.imul(h ^ c, FNV_PRIME);
      if (c === NEWLINE) {
        sum = (sum + h) | 0;
        h = FNV_OFFSET | 0;
        last = i;
        this.lines++;
        if (++inBlock === this.blockLines) {
          this.close(sum);
          sum = 0;
          inBlock = 0;
        }
      }
    }
    this.lineHash = h;
    this.blockSum = sum;
    this.inBlock = inBlock;
    if (last >= 0) this.wholeBytes = this.bytes + last + 1;
    this.bytes += n;
  }

  /** Closes the block in progress; at MAX_BLOCKS, neighbours merge into blocks twice as long. */
  private close(sum: number): void {
    this.sums.push(sum >>> 0);
    if (this.sums.length < MAX_BLOCKS) return;
    for (let b = 0; b < MAX_BLOCKS / 2; b++) this.sums[b] = (this.sums[2 * b] + this.sums[2 * b + 1]) >>> 0;
    this.sums.length = MAX_BLOCKS / 2;
    this.blockLines *= 2;
  }

  /** The digest of everything taken so far, which must end with a whole line. */
  snapshot(): Durable {
    if (this.wholeBytes !== this.bytes) throw new RangeError('PrefixDigest: snapshot inside a line');
    return {
      bytes: this.bytes,
      lines: this.lines,
      sha256: this.hash.copy().digest('hex'),
      blockLines: this.blockLines,
      sums: this.inBlock > 0 ? [...this.sums, this.blockSum >>> 0] : [...this.sums],
    };
  }
}

/** The outcome of checking a file's bytes against what was durable. */
export interface Verified {
  /** Bytes to keep: the durable prefix, or less when the file is shorter (lines that
   * can no longer be checked are dropped, to be run again). */
  readonly keep: number;
  /** Lines written after the last sync, or unverifiable, dropped. */
  readonly dropped: number;
}

/** The 1-based line numbers of the block's first and last lines, in words. */
const lineRange = (block: number, size: number, lines: number): string =>
  size === 1 || block * size + 1 === Math.min((block + 1) * size, lines)
    ? `line ${block * size + 1}`
    : `lines ${block * size + 1}–${Math.min((block + 1) * size, lines)}`;

/**
 * Checks `file` (its bytes, whole lines or a torn last line) against `durable`.
 * Returns how much to keep; throws `changed(where)` naming the first line (or block
 * of lines) that differs from what was synced.
 */
export function verify(file: Uint8Array, durable: Durable, changed: (where: string) => Error): Verified {
  const end = file.lastIndexOf(NEWLINE) + 1; // a torn last line is not data
  const sha256 = (): string => createHash('sha256').update(file.subarray(0, durable.bytes)).digest('hex');
  if (file.length >= durable.bytes && sha256() === durable.sha256)
    return { keep: durable.bytes, dropped: countLines(file, durable.bytes, end) };
  // Something differs, or the file is shorter: compare block by block.
  const size = durable.blockLines;
  let keep = 0;
  for (let block = 0; block < durable.sums.length; block++) {
    const lines = Math.min(size, durable.lines - block * size);
    let to = keep;
    let n = 0;
    for (; n < lines && to < end; n++) to = file.indexOf(NEWLINE, to) + 1;
    if (n < lines) break; // the file ends inside this block: it cannot be checked
    if (blockSum(file.subarray(keep, to)) !== durable.sums[block]) throw changed(lineRange(block, size, durable.lines));
    keep = to;
  }
  // Every block agrees, yet the whole does not: lines moved within a block.
  if (keep === durable.bytes) throw changed(`lines 1–${durable.lines} (each block's lines are there, not in order)`);
  return { keep, dropped: countLines(file, keep, end) };
}

function countLines(file: Uint8Array, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (file[i] === NEWLINE) n++;
  return n;
}

/** The checksum of a block of whole lines. */
function blockSum(bytes: Uint8Array): number {
  let sum = 0;
  let h = FNV_OFFSET | 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    h = Math.imul(h ^ c, FNV_PRIME);
    if (c === NEWLINE) {
      sum = (sum + h) | 0;
      h = FNV_OFFSET | 0;
    }
  }
  return sum >>> 0;
}
