/**
 * Issue 8, finding 1: an output that stops taking bytes part-way (a file-size limit,
 * a full filesystem) ends the sweep with one line and exit 1, the manifest never
 * says complete over a short file, and the sweep resumes to the uninterrupted CSV.
 * Real limits, in child processes: `ulimit -f` (the kernel takes part of a write,
 * then refuses the rest with EFBIG) and a small tmpfs (ENOSPC) where this machine
 * lets the test mount one.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneLine, readManifest, run, stable } from './child.js';

/** 6 optimizers × 200 rates × 2 momenta (momentum, nesterov) = 1600 runs of 30
 * steps: about 240 KB of CSV, written in a second. (Rates, not seeds: the bowl's runs
 * ignore the seed.) */
const BIG = {
  name: 'short-writes',
  problem: { name: 'anisotropic-bowl' },
  optimizers: ['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'],
  lr: Array.from({ length: 200 }, (_, i) => Number((0.001 * 1.035 ** i).toPrecision(6))),
  momentum: [0.5, 0.9],
  steps: 30,
};
const RUNS = 1600;
/** KiB a file may grow to under `ulimit -f` (bash counts 1024-byte blocks): about
 * 90% of the CSV, so the limit falls in the middle of a row. */
const LIMIT_KIB = 215;

let tmp: string;
let config: string;
let reference: string;
let curvesReference: string;
/** A tmpfs too small for the curves, when this machine lets the test mount one. */
let tmpfs: string | undefined;

function tryMount(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'sweep-short-'));
  config = join(tmp, 'big.json');
  writeFileSync(config, JSON.stringify(BIG));
  reference = join(tmp, 'reference.csv');
  curvesReference = join(tmp, 'reference-curves.csv');
  const r = await run([config, '--out', reference, '--curves', curvesReference, '--curve-every', '10']);
  expect(r.code, r.stderr).toBe(0);
  const dir = join(tmp, 'small-fs');
  mkdirSync(dir);
  if (tryMount(dir, '256k')) tmpfs = dir;
  else console.warn('short-writes: mount not permitted here; the tmpfs variant is skipped');
});

afterAll(() => {
  if (tmpfs) execFileSync('umount', [tmpfs]);
  rmSync(tmp, { recursive: true, force: true });
});

describe('the references', () => {
  it('are larger than the limits below, so that the limits cut them', () => {
    expect(statSync(reference).size).toBeGreaterThan(LIMIT_KIB * 1024);
    expect(statSync(curvesReference).size).toBeGreaterThan(LIMIT_KIB * 1024);
    expect(stable(readFileSync(reference, 'utf8'))).toHaveLength(RUNS + 1);
  });
});

/** Exit 1 with one line naming `file` and `code`, the manifest not complete, then
 * --resume (without the limit) finishes the CSV equal to the reference. */
async function failsThenResumes(out: string, curves: string | undefined, limits: string | undefined, says: RegExp) {
  const extra = curves ? ['--curves', curves, '--curve-every', '10'] : [];
  const r = await run([config, '--out', out, ...extra], { limits });
  expect(r.code, r.stderr).toBe(1);
  expect(oneLine(r.stderr)).toMatch(says);
  expect(readManifest(out).complete).toBe(false);
  return extra;
}

describe('a file-size limit (ulimit -f): exit 1, never complete over a short file', () => {
  it('on the CSV', async () => {
    const out = join(tmp, 'limited.csv');
    await failsThenResumes(out, undefined, `ulimit -f ${LIMIT_KIB}`, /^sweep: cannot write .*limited\.csv \(EFBIG\)$/);
    expect(statSync(out).size).toBe(LIMIT_KIB * 1024);
    const resumed = await run([config, '--out', out, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(stable(readFileSync(out, 'utf8'))).toEqual(stable(readFileSync(reference, 'utf8')));
    expect(readManifest(out).complete).toBe(true);
  });

  it('on the curves file (larger than the CSV, so it reaches the limit first)', async () => {
    const out = join(tmp, 'limited-curves.csv');
    const curves = join(tmp, 'limited-curves.curves.csv');
    const extra = await failsThenResumes(
      out,
      curves,
      `ulimit -f ${LIMIT_KIB}`,
      /^sweep: cannot write .*limited-curves\.curves\.csv \(EFBIG\)$/,
    );
    const resumed = await run([config, '--out', out, '--resume', ...extra]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(readFileSync(curves, 'utf8')).toBe(readFileSync(curvesReference, 'utf8'));
    expect(stable(readFileSync(out, 'utf8'))).toEqual(stable(readFileSync(reference, 'utf8')));
  });
});

describe('a full filesystem (a 256 KiB tmpfs, where mount is permitted)', () => {
  it('on the curves file: exit 1 naming it, ENOSPC; the CSV is not marked complete', async (ctx) => {
    if (!tmpfs) return ctx.skip('mount not permitted here');
    const out = join(tmp, 'full.csv');
    const curves = join(tmpfs, 'curves.csv');
    const extra = await failsThenResumes(out, curves, undefined, /^sweep: cannot write .*curves\.csv \(ENOSPC\)$/);
    // Once there is room again, the same command line resumes.
    execFileSync('mount', ['-o', 'remount,size=4m', tmpfs]);
    const resumed = await run([config, '--out', out, '--resume', ...extra]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(readFileSync(curves, 'utf8')).toBe(readFileSync(curvesReference, 'utf8'));
  });
});
