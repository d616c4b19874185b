/**
 * Never lose a run: the CLI in a child process, interrupted (SIGINT, SIGTERM,
 * SIGKILL, two SIGINTs) at several points of a sweep, then resumed with --resume
 * until it finishes, must leave the CSV of a sweep that was never interrupted, the
 * timing column aside: no run lost, none repeated, rows in run order. And the
 * states a file can be left in (a torn last line, a torn header, another config's
 * file, no record) are repaired or refused as the issue says.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { UsageError } from '../src/errors.js';
import { CurvesFile } from '../src/output.js';
import { readCurves, readSweep } from '../src/read.js';
import {
  BOWL_48,
  QUADRATIC_54,
  oneLine,
  readManifest,
  rowsIn,
  run,
  stable,
  start,
  waitFor,
  type Exit,
} from './child.js';

const BIG = QUADRATIC_54;
const BIG_RUNS = 54;
/** For the file-state cases. */
const SMALL = BOWL_48;
const SMALL_RUNS = 48;

/** What the file holds up to its last line end: a torn last line is not data yet. */
const completeLines = (text: string): string => text.slice(0, text.lastIndexOf('\n') + 1);

const readRecord = readManifest;

let tmp: string;
let bigConfig: string;
let smallConfig: string;
let bigReference: string;
let smallReference: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'sweep-resume-'));
  bigConfig = join(tmp, 'big.json');
  smallConfig = join(tmp, 'small.json');
  writeFileSync(bigConfig, `${JSON.stringify(BIG, null, 2)}\n`);
  writeFileSync(smallConfig, `${JSON.stringify(SMALL, null, 2)}\n`);
  const dry = await run([bigConfig, '--dry-run']);
  expect(dry.stdout).toMatch(new RegExp(`total\\s+${BIG_RUNS}\\b`));
  bigReference = join(tmp, 'big-reference.csv');
  smallReference = join(tmp, 'small-reference.csv');
  const [big, small] = await Promise.all([
    run([bigConfig, '--out', bigReference]),
    run([smallConfig, '--out', smallReference]),
  ]);
  expect(big.code, big.stderr).toBe(0);
  expect(small.code, small.stderr).toBe(0);
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('the uninterrupted references', () => {
  it('hold every run once, in run order, with some diverged', () => {
    const rows = stable(readFileSync(bigReference, 'utf8'));
    expect(rows).toHaveLength(BIG_RUNS + 1);
    expect(rows.slice(1).map((r) => Number(r[0]))).toEqual([...Array(BIG_RUNS).keys()]);
    const status = rows[0].indexOf('status');
    const statuses = new Set(rows.slice(1).map((r) => r[status]));
    expect(statuses).toEqual(new Set(['ok', 'diverged']));
    expect(readRecord(bigReference)).toMatchObject({ complete: true, runs: BIG_RUNS, name: BIG.name });
    expect(rowsIn(smallReference)).toBe(SMALL_RUNS);
  });
});

type Interrupt = 'SIGINT' | 'SIGTERM' | 'SIGKILL' | 'SIGINT twice';

/**
 * Starts the big sweep, interrupts it once `atRows` rows are on disk, checks how it
 * stopped and what it left, then resumes it until it exits 0 and compares the CSV
 * with the reference.
 */
async function interruptAndResume(label: string, how: Interrupt, atRows: number): Promise<void> {
  const out = join(tmp, `${label}.csv`);
  const child = start([bigConfig, '--out', out]);
  await waitFor(`${atRows} rows`, () => rowsIn(out) >= atRows, child.exited);
  if (how === 'SIGINT twice') {
    child.kill('SIGINT');
    await waitFor('the first SIGINT to be taken', () => child.stderr().includes('no new runs'), child.exited);
    child.kill('SIGINT');
  } else child.kill(how);
  const stopped = await child.exit;

  switch (how) {
    case 'SIGINT':
    case 'SIGTERM': {
      expect(stopped.code, stopped.stderr).toBe(how === 'SIGINT' ? 130 : 143);
      expect(stopped.signal).toBeNull();
      // It says how to resume: the same config, the same file, --resume.
      expect(stopped.stderr).toContain(`${bigConfig} --out ${out} --resume`);
      expect(stopped.stderr).toMatch(new RegExp(`interrupted with \\d+ of ${BIG_RUNS} runs not done`));
      expect(stopped.stderr).not.toMatch(/^\s+at /m);
      // Runs in progress were finished and written: no torn line.
      const text = readFileSync(out, 'utf8');
      expect(text.endsWith('\n')).toBe(true);
      expect(readRecord(out).complete).toBe(false);
      break;
    }
    case 'SIGINT twice':
      expect(stopped.code, stopped.stderr).toBe(130);
      expect(stopped.stderr).toContain('stopped at once by SIGINT');
      break;
    case 'SIGKILL':
      expect(stopped.signal).toBe('SIGKILL');
      expect(readRecord(out).complete).toBe(false);
      break;
  }

  // Whatever is on disk is a prefix of the reference: rows in order, none lost between.
  const reference = stable(readFileSync(bigReference, 'utf8'));
  const kept = stable(completeLines(readFileSync(out, 'utf8')));
  const done = kept.length - 1;
  expect(done).toBeGreaterThanOrEqual(atRows);
  expect(done, 'the sweep should have been stopped before its end').toBeLessThan(BIG_RUNS);
  expect(kept).toEqual(reference.slice(0, kept.length));

  let resumed: Exit | undefined;
  for (let attempt = 0; attempt < 3 && resumed?.code !== 0; attempt++) {
    resumed = await run([bigConfig, '--out', out, '--resume']);
    if (attempt === 0) {
      expect(resumed.code, resumed.stderr).toBe(0);
      if (how === 'SIGINT' || how === 'SIGTERM')
        expect(resumed.stdout).toContain(`resuming ${out}: ${done} of ${BIG_RUNS} runs already done\n`);
      else {
        // Stopped at once: the rows written after the last sync are not vouched for: cut, run again.
        const said = new RegExp(`resuming ${out}: (\\d+) of ${BIG_RUNS} runs already done(?:; (\\d+) rows .*cut)?\n`);
        const [, vouched, again] = said.exec(resumed.stdout) ?? [];
        expect(vouched, resumed.stdout).toBeDefined();
        expect(Number(vouched) + Number(again ?? 0)).toBe(done);
      }
    }
  }
  expect(resumed?.code).toBe(0);
  expect(stable(readFileSync(out, 'utf8'))).toEqual(reference);
  expect(readRecord(out)).toMatchObject({ complete: true, runs: BIG_RUNS });
  expect(readRecord(out).fingerprint).toBe(readRecord(bigReference).fingerprint);
}

describe('interrupted, then resumed to completion, equals the uninterrupted CSV', () => {
  const EARLY = 1;
  const MIDDLE = BIG_RUNS / 2;
  /** Late, with runs enough left that stopping still leaves some undone (4 are in flight). */
  const LATE = BIG_RUNS - 12;

  it('SIGINT after the first rows: exit 130, how to resume on stderr', () =>
    interruptAndResume('sigint-early', 'SIGINT', EARLY));
  it('SIGINT in the middle', () => interruptAndResume('sigint-middle', 'SIGINT', MIDDLE));
  it('SIGINT near the end', () => interruptAndResume('sigint-late', 'SIGINT', LATE));
  it('SIGTERM in the middle: exit 143', () => interruptAndResume('sigterm-middle', 'SIGTERM', MIDDLE));
  it('SIGKILL after the first rows', () => interruptAndResume('sigkill-early', 'SIGKILL', EARLY));
  it('SIGKILL in the middle', () => interruptAndResume('sigkill-middle', 'SIGKILL', MIDDLE));
  it('SIGKILL near the end', () => interruptAndResume('sigkill-late', 'SIGKILL', LATE));
  it('two SIGINTs: the second stops at once, and the file is still resumable', () =>
    interruptAndResume('sigint-twice', 'SIGINT twice', MIDDLE));
});

describe('curves across a kill and a resume', () => {
  it('the curves file, the CSV and their records agree with the uninterrupted ones', async () => {
    const refCsv = join(tmp, 'curves-reference.csv');
    const refCurves = join(tmp, 'curves-reference.curves.csv');
    const whole = await run([bigConfig, '--out', refCsv, '--curves', refCurves]);
    expect(whole.code, whole.stderr).toBe(0);

    const out = join(tmp, 'curves-killed.csv');
    const curves = join(tmp, 'curves-killed.curves.csv');
    const child = start([bigConfig, '--out', out, '--curves', curves]);
    await waitFor('half the rows', () => rowsIn(out) >= BIG_RUNS / 2, child.exited);
    child.kill('SIGKILL');
    await child.exit;
    const resumed = await run([bigConfig, '--out', out, '--curves', curves, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(stable(readFileSync(out, 'utf8'))).toEqual(stable(readFileSync(refCsv, 'utf8')));
    expect(readFileSync(curves, 'utf8')).toBe(readFileSync(refCurves, 'utf8'));

    // The records read back agree with each other: every run's curve ends at its last
    // step with its final loss (or, diverged, at the step it diverged).
    const { plan, records } = await readSweep(out);
    const byRun = await readCurves(curves, plan);
    expect(byRun.size).toBe(BIG_RUNS);
    for (const r of records) {
      const c = byRun.get(r.runId)!;
      const last = c.step.length - 1;
      if (r.status === 'ok') {
        expect(c.step[last]).toBe(plan.steps);
        expect(c.values[last]).toBe(r.finalLoss);
      } else if (r.status === 'diverged') expect(c.step[last]).toBe(r.divergedAt);
    }
  });
});

/** A copy of a reference CSV and its record, to damage. */
function copyOf(reference: string, label: string): string {
  const out = join(tmp, `${label}.csv`);
  copyFileSync(reference, out);
  copyFileSync(`${reference}.sweep.json`, `${out}.sweep.json`);
  return out;
}

function markIncomplete(csv: string): void {
  const record = readRecord(csv);
  writeFileSync(`${csv}.sweep.json`, `${JSON.stringify({ ...record, complete: false }, null, 2)}\n`);
}

describe('a file left torn', () => {
  it('a torn last line is cut and that run done again', async () => {
    const out = copyOf(bigReference, 'torn-last');
    const text = readFileSync(out, 'utf8');
    const lastStart = text.lastIndexOf('\n', text.length - 2) + 1;
    const cutAt = lastStart + Math.floor((text.length - lastStart) / 2);
    truncateSync(out, Buffer.byteLength(text.slice(0, cutAt)));
    markIncomplete(out);
    const resumed = await run([bigConfig, '--out', out, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain(`${BIG_RUNS - 1} of ${BIG_RUNS} runs already done`);
    expect(stable(readFileSync(out, 'utf8'))).toEqual(stable(readFileSync(bigReference, 'utf8')));
    expect(readRecord(out).complete).toBe(true);
  });

  it('a file cut in the middle of a row, further back, loses nothing', async () => {
    const out = copyOf(smallReference, 'torn-middle');
    const text = readFileSync(out, 'utf8');
    // Cut inside row 20 (line 21), just after its third comma.
    let at = 0;
    for (let line = 0; line < 21; line++) at = text.indexOf('\n', at) + 1;
    for (let comma = 0; comma < 3; comma++) at = text.indexOf(',', at) + 1;
    truncateSync(out, at);
    markIncomplete(out);
    const resumed = await run([smallConfig, '--out', out, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain(`20 of ${SMALL_RUNS} runs already done`);
    expect(stable(readFileSync(out, 'utf8'))).toEqual(stable(readFileSync(smallReference, 'utf8')));
  });

  it('a torn header (killed while writing it) starts the file over', async () => {
    const out = copyOf(smallReference, 'torn-header');
    truncateSync(out, 10);
    markIncomplete(out);
    const resumed = await run([smallConfig, '--out', out, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(stable(readFileSync(out, 'utf8'))).toEqual(stable(readFileSync(smallReference, 'utf8')));
  });

  it('an empty file (killed before the header) starts the file over', async () => {
    const out = copyOf(smallReference, 'empty');
    truncateSync(out, 0);
    markIncomplete(out);
    const resumed = await run([smallConfig, '--out', out, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(stable(readFileSync(out, 'utf8'))).toEqual(stable(readFileSync(smallReference, 'utf8')));
  });

  it('resuming a complete file runs nothing and changes no row', async () => {
    const out = copyOf(smallReference, 'complete');
    const before = readFileSync(out, 'utf8');
    const resumed = await run([smallConfig, '--out', out, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(before);
    expect(readRecord(out).complete).toBe(true);
  });
});

describe('--resume of what a sweep left, whatever it left', () => {
  it('nothing at all (stopped before the CSV existed): the sweep starts', async () => {
    const out = join(tmp, 'never-started.csv');
    const r = await run([smallConfig, '--out', out, '--resume']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('nothing to resume yet; starting the sweep');
    expect(stable(readFileSync(out, 'utf8'))).toEqual(stable(readFileSync(smallReference, 'utf8')));
    expect(readRecord(out).complete).toBe(true);
  });

  it("a manifest of format 1 (an older engine: no config in it) resumes when its fingerprint is this plan's", async () => {
    const out = copyOf(smallReference, 'format-1');
    truncateSync(out, Buffer.byteLength(completeLines(readFileSync(out, 'utf8').slice(0, 700))));
    const { fingerprint, name, runs } = readRecord(out);
    writeFileSync(`${out}.sweep.json`, JSON.stringify({ format: 1, fingerprint, name, runs, complete: false }));
    const r = await run([smallConfig, '--out', out, '--resume']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/resuming .*: \d+ of 48 runs already done/);
    expect(stable(readFileSync(out, 'utf8'))).toEqual(stable(readFileSync(smallReference, 'utf8')));
  });

  it('a manifest whose config lacks fields that have defaults (written before they existed) resumes', async () => {
    const out = copyOf(smallReference, 'older-config');
    truncateSync(out, Buffer.byteLength(completeLines(readFileSync(out, 'utf8').slice(0, 700))));
    const manifest = JSON.parse(readFileSync(`${out}.sweep.json`, 'utf8')) as {
      config: { problem: Record<string, unknown> };
      complete: boolean;
    };
    delete manifest.config.problem.start; // the bowl's start option, [-7, 2] by default
    writeFileSync(`${out}.sweep.json`, JSON.stringify({ ...manifest, complete: false }));
    const r = await run([smallConfig, '--out', out, '--resume']);
    expect(r.code, r.stderr).toBe(0);
    expect(stable(readFileSync(out, 'utf8'))).toEqual(stable(readFileSync(smallReference, 'utf8')));
  });
});

describe('refused: exit 2, one line, the file untouched', () => {
  async function refusedOn(out: string, args: string[], says: string[]): Promise<void> {
    const csv = readFileSync(out);
    const record = existsSync(`${out}.sweep.json`) ? readFileSync(`${out}.sweep.json`) : undefined;
    const r = await run(args);
    expect(r.code, r.stderr).toBe(2);
    const line = oneLine(r.stderr);
    for (const s of says) expect(line).toContain(s);
    expect(readFileSync(out).equals(csv), 'CSV untouched').toBe(true);
    if (record) expect(readFileSync(`${out}.sweep.json`).equals(record), 'record untouched').toBe(true);
    else expect(existsSync(`${out}.sweep.json`)).toBe(false);
  }

  it('--resume with a different config', async () => {
    const out = copyOf(smallReference, 'other-config');
    truncateSync(out, Buffer.byteLength(completeLines(readFileSync(out, 'utf8').slice(0, 400))));
    markIncomplete(out);
    const other = join(tmp, 'small-other.json');
    writeFileSync(other, JSON.stringify({ ...SMALL, steps: SMALL.steps + 1 }));
    await refusedOn(out, [other, '--out', out, '--resume'], [out, 'different config', SMALL.name]);
  });

  it('--resume with a config that differs only in a problem option', async () => {
    const out = copyOf(bigReference, 'other-option');
    const other = join(tmp, 'big-other.json');
    writeFileSync(other, JSON.stringify({ ...BIG, problem: { ...BIG.problem, condition: 101 } }));
    await refusedOn(out, [other, '--out', out, '--resume'], [out, 'different config']);
  });

  it('--resume without its .sweep.json', async () => {
    const out = copyOf(smallReference, 'no-record');
    rmSync(`${out}.sweep.json`);
    await refusedOn(
      out,
      [smallConfig, '--out', out, '--resume'],
      [out, 'manifest', '.sweep.json', 'missing', '--force'],
    );
  });

  it('--resume of a manifest whose CSV is gone', async () => {
    const out = copyOf(smallReference, 'no-csv');
    rmSync(out);
    const manifest = readFileSync(`${out}.sweep.json`);
    const r = await run([smallConfig, '--out', out, '--resume']);
    expect(r.code, r.stderr).toBe(2);
    expect(oneLine(r.stderr)).toContain('the CSV is missing but its manifest is there');
    expect(readFileSync(`${out}.sweep.json`).equals(manifest)).toBe(true);
    expect(existsSync(out)).toBe(false);
  });

  it('--resume of a manifest that is not JSON says so (not that it is missing)', async () => {
    const out = copyOf(smallReference, 'torn-manifest');
    writeFileSync(`${out}.sweep.json`, '{"format": 2, "fing');
    await refusedOn(out, [smallConfig, '--out', out, '--resume'], [out, 'not valid JSON']);
  });

  it('--resume on a file whose rows were reordered by hand', async () => {
    const out = copyOf(smallReference, 'by-hand');
    const lines = readFileSync(out, 'utf8').split('\n');
    [lines[3], lines[4]] = [lines[4], lines[3]];
    writeFileSync(out, lines.join('\n'));
    markIncomplete(out);
    await refusedOn(out, [smallConfig, '--out', out, '--resume'], [out, 'run_id']);
  });

  it('an existing output without --resume or --force', async () => {
    const out = copyOf(smallReference, 'exists');
    await refusedOn(out, [smallConfig, '--out', out], [out, 'exists', '--resume', '--force']);
  });

  it('--resume and --force together', async () => {
    const out = copyOf(smallReference, 'both');
    await refusedOn(out, [smallConfig, '--out', out, '--resume', '--force'], ['--resume', '--force']);
  });
});

describe('--force', () => {
  it('overwrites an existing output with a fresh sweep and a fresh record', async () => {
    const out = copyOf(bigReference, 'forced');
    const r = await run([smallConfig, '--out', out, '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect(stable(readFileSync(out, 'utf8'))).toEqual(stable(readFileSync(smallReference, 'utf8')));
    // The same record but for the digest of the bytes (the timing column differs).
    const { durable: _mine, ...mine } = readRecord(out);
    const { durable: _theirs, ...theirs } = readRecord(smallReference);
    expect(mine).toEqual(theirs);
  });
});

describe('an output that cannot be written', () => {
  // A full disk, for real, is in short-writes.test.ts (ulimit -f, a full tmpfs).
  it('a device such as /dev/full is refused up front: it can be neither synced nor resumed', async () => {
    const plan = parseConfig(readFileSync(smallConfig, 'utf8'), smallConfig);
    await expect(CurvesFile.create('/dev/full', plan, true)).rejects.toThrow(UsageError);
    await expect(CurvesFile.create('/dev/full', plan, true)).rejects.toThrow('is a device, not a regular file');
  });
});
