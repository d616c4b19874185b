/**
 * Issue 8, finding 5: resume trusts only what its manifest vouches for. At every sync
 * the manifest records the length, sha256 and per-block checksums of the CSV's
 * durable prefix; `--resume` refuses a prefix changed since (one line naming the
 * first changed line, exit 2, nothing changed), cuts rows past the last sync (they
 * run again), and refuses a CSV written by another engine version. Without a digest
 * (a manifest of format 2), rows must still be the plan's: no run beyond its last.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { PrefixDigest, verify } from '../src/integrity.js';
import { BOWL_48, oneLine, readManifest, run, scratch, stable } from './child.js';

/** 48 runs: fewer lines than blocks, so a checksum per line. */
const SMALL = { ...BOWL_48, name: 'integrity-bowl' };
/** 6 × 5 × 50 = 1500 runs: more lines than blocks, so a checksum per 2 lines. */
const LARGE = { ...SMALL, name: 'integrity-large', lr: [0.001, 0.01, 0.1, 0.5, 1], seeds: [...Array(50).keys()] };

const tmp = scratch('sweep-integrity-', { small: SMALL, large: LARGE });
const small = join(tmp, 'small.json');
const large = join(tmp, 'large.json');
const smallReference = join(tmp, 'small.csv');
const largeReference = join(tmp, 'large.csv');

beforeAll(async () => {
  const done = await Promise.all([run([small, '--out', smallReference]), run([large, '--out', largeReference])]);
  for (const r of done) expect(r.code, r.stderr).toBe(0);
});

let n = 0;
/** A copy of a reference CSV and its manifest, marked incomplete (as if interrupted)
 * unless `complete`, with `edit` applied to the CSV's lines. */
function copy(reference: string, edit: (lines: string[]) => void, complete = false): string {
  const out = join(tmp, `copy-${n++}.csv`);
  const lines = readFileSync(reference, 'utf8').split('\n');
  edit(lines);
  writeFileSync(out, lines.join('\n'));
  const manifest = readManifest(reference);
  writeFileSync(`${out}.sweep.json`, JSON.stringify({ ...manifest, complete: complete && manifest.complete }));
  return out;
}

/** Sets one cell of line `line` (1-based, the header is line 1). */
function setCell(lines: string[], line: number, column: string, value: string): void {
  const header = lines[0].split(',');
  const cells = lines[line - 1].split(',');
  cells[header.indexOf(column)] = value;
  lines[line - 1] = cells.join(',');
}

async function refused(config: string, out: string, says: string[]): Promise<void> {
  const before = [readFileSync(out), readFileSync(`${out}.sweep.json`)];
  const r = await run([config, '--out', out, '--resume']);
  expect(r.code, r.stderr).toBe(2);
  const line = oneLine(r.stderr);
  for (const s of says) expect(line).toContain(s);
  expect(readFileSync(out).equals(before[0]), 'CSV untouched').toBe(true);
  expect(readFileSync(`${out}.sweep.json`).equals(before[1]), 'manifest untouched').toBe(true);
}

describe('the manifest vouches for what was synced', () => {
  it('a complete sweep: every byte, with a checksum per line', () => {
    const { durable } = readManifest(smallReference);
    expect(durable.bytes).toBe(readFileSync(smallReference).length);
    expect(durable.lines).toBe(49);
    expect(durable.blockLines).toBe(1);
    expect(durable.sums).toHaveLength(49);
  });

  it('a long sweep: blocks of lines, the record stays small', () => {
    const { durable } = readManifest(largeReference);
    expect(durable.lines).toBe(1501);
    expect(durable.blockLines).toBe(2);
    expect(durable.sums).toHaveLength(751);
  });
});

describe('a changed prefix is refused, naming the first changed line', () => {
  it('a final_loss edited to -5 (which would rank best)', async () => {
    const out = copy(smallReference, (lines) => setCell(lines, 12, 'final_loss', '-5'));
    await refused(small, out, ['line 12 (run_id 10) changed', '--force']);
  });

  it('a row appended with run_id 48 of 48 to a complete sweep is cut, not counted', async () => {
    const out = copy(
      smallReference,
      (lines) => lines.splice(lines.length - 1, 0, lines[lines.length - 2].replace(/^47,/, '48,')),
      true,
    );
    const r = await run([small, '--out', out, '--resume']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('48 of 48 runs already done; 1 rows after the last sync');
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(smallReference, 'utf8'));
  });

  it('two rows swapped (the run_ids kept in order)', async () => {
    const out = copy(smallReference, (lines) => {
      const [a, b] = [lines[20], lines[21]].map((l) => l.slice(l.indexOf(',')));
      lines[20] = `20${b}`;
      lines[21] = `21${a}`;
    });
    await refused(small, out, ['line 21 (run_id 20) changed']);
  });

  it('in a long sweep, the block of lines holding the change', async () => {
    const out = copy(largeReference, (lines) => setCell(lines, 1000, 'best_loss', '0'));
    await refused(large, out, ['lines 999–1000 changed']);
  });

  it('a header changed by hand', async () => {
    const out = copy(smallReference, (lines) => (lines[0] = lines[0].replace('final_loss', 'final_los')));
    await refused(small, out, ['line 1 (the header) changed']);
  });
});

describe('what is not vouched for is run again', () => {
  it('rows after the durable prefix are cut and run again: the result is the uninterrupted CSV', async () => {
    // As after a kill a moment after a sync: the manifest vouches for 30 rows, the file has 40.
    const out = copy(smallReference, (lines) => lines.splice(41, lines.length - 42));
    const text = readFileSync(smallReference, 'utf8');
    const digest = new PrefixDigest();
    digest.update(Buffer.from(`${text.split('\n').slice(0, 31).join('\n')}\n`));
    writeFileSync(`${out}.sweep.json`, JSON.stringify({ ...readManifest(out), durable: digest.snapshot() }));
    const r = await run([small, '--out', out, '--resume']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('30 of 48 runs already done; 10 rows after the last sync');
    expect(stable(readFileSync(out, 'utf8'))).toEqual(stable(text));
    expect(readManifest(out).durable.bytes).toBe(readFileSync(out).length);
  });
});

describe('the digest, in this process', () => {
  const lines = (count: number): Buffer =>
    Buffer.from(Array.from({ length: count }, (_, i) => `${i},row ${i * 7919}\n`).join(''));
  const changed = (where: string): Error => new Error(where);

  it.each([1, 2, 1024, 1025, 5000])('%i lines: verify keeps them all, fed whole or in pieces', (count) => {
    const bytes = lines(count);
    const whole = new PrefixDigest();
    whole.update(bytes);
    const pieces = new PrefixDigest();
    for (let at = 0; at < bytes.length; at += 333) pieces.update(bytes.subarray(at, at + 333));
    expect(pieces.snapshot()).toEqual(whole.snapshot());
    const durable = whole.snapshot();
    expect(durable.sums.length).toBeLessThanOrEqual(1024);
    expect(verify(bytes, durable, changed)).toEqual({ keep: bytes.length, dropped: 0 });
    // A shorter file: whole blocks are kept, the rest dropped.
    const cut = bytes.subarray(0, bytes.indexOf('\n', bytes.length >> 1) + 1);
    const { keep } = verify(cut, durable, changed);
    expect(keep).toBeLessThanOrEqual(cut.length);
    expect(cut.length - keep).toBeLessThan(durable.blockLines * 20);
    // One changed byte anywhere is found, in its block.
    const edited = Buffer.from(bytes);
    const at = Math.floor(bytes.length * 0.7);
    edited[at] = edited[at] === 0x30 ? 0x31 : 0x30;
    const line = bytes.subarray(0, at).filter((b) => b === 0x0a).length + 1;
    expect(() => verify(edited, durable, changed)).toThrow(
      durable.blockLines === 1 ? `line ${line}` : /^lines \d+–\d+$/,
    );
  });
});

describe('engine and format', () => {
  it('a CSV written by another engine version is refused', async () => {
    const out = copy(smallReference, (lines) => lines.splice(30));
    const manifest = readManifest(out);
    writeFileSync(`${out}.sweep.json`, JSON.stringify({ ...manifest, engine: '0.0.9' }));
    await refused(small, out, ['written by sweep 0.0.9', 'this is 0.1.0']);
  });

  it('format 2 (no digest): a row beyond the plan is refused', async () => {
    const out = copy(smallReference, (lines) =>
      lines.splice(lines.length - 1, 0, lines[lines.length - 2].replace(/^47,/, '48,')),
    );
    const { durable: _, ...manifest } = readManifest(out);
    writeFileSync(`${out}.sweep.json`, JSON.stringify({ ...manifest, format: 2 }));
    await refused(small, out, ['row 50', "sweep's 48 runs"]);
  });

  it('format 2 (no digest): a plain resume still works', async () => {
    const out = copy(smallReference, (lines) => lines.splice(20, lines.length - 21));
    const { durable: _, ...manifest } = readManifest(out);
    writeFileSync(`${out}.sweep.json`, JSON.stringify({ ...manifest, format: 2 }));
    const r = await run([small, '--out', out, '--resume']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('19 of 48 runs already done\n');
    const rows = parse(readFileSync(out, 'utf8'), { columns: true }) as { run_id: string }[];
    expect(rows.map((row) => Number(row.run_id))).toEqual([...Array(48).keys()]);
    expect(readManifest(out)).toMatchObject({ format: 3, complete: true });
  });
});
