/**
 * The report on the command line, end to end (`node dist/...` as child processes):
 * every sweep writes `<name>.summary.csv` and `<name>.html` beside its CSV unless
 * `--no-report`; `npm run report` writes them from a CSV and its manifest; bad input
 * (a missing file, no manifest, a torn or edited CSV, a sweep still running) exits 2
 * with one line naming the file and leaves no file behind; a stopped sweep's report
 * says it is partial; a resumed sweep's summary is an uninterrupted one's.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SWEEP = join(ROOT, 'dist', 'src', 'cli.js');
const REPORT = join(ROOT, 'dist', 'src', 'report', 'cli.js');
const TMP = mkdtempSync(join(tmpdir(), 'sweep-report-cli-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cli: string, ...args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { cwd: ROOT }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

let fresh = 0;
function folder(): string {
  const dir = join(TMP, `case-${fresh++}`);
  mkdirSync(dir);
  return dir;
}

const GRID = {
  name: 'grid',
  problem: { name: 'quadratic', dim: 3, condition: 10 },
  optimizers: ['sgd', 'momentum'],
  lr: [0.05, 0.5],
  momentum: [0.5, 0.9],
  seeds: [0, 1, 2],
  steps: 300,
};

/** A finished sweep of GRID in a new folder: its CSV's path. */
async function swept(extra: string[] = []): Promise<string> {
  const dir = folder();
  writeFileSync(join(dir, 'grid.json'), JSON.stringify(GRID));
  const csv = join(dir, 'grid.csv');
  const r = await run(SWEEP, join(dir, 'grid.json'), '--out', csv, '--no-progress', '--workers', '1', ...extra);
  expect(r.code, r.stderr).toBe(0);
  lastSweep = r;
  return csv;
}
let lastSweep: Outcome;

const manifestOf = (csv: string): Record<string, unknown> => JSON.parse(readFileSync(`${csv}.sweep.json`, 'utf8'));

describe('a sweep', () => {
  it('writes its summary and report beside the CSV at the end, and prints the best configurations by mean', async () => {
    const csv = await swept();
    const dir = join(csv, '..');
    expect(readdirSync(dir).sort()).toEqual([
      'grid.csv',
      'grid.csv.sweep.json',
      'grid.html',
      'grid.json',
      'grid.summary.csv',
    ]);
    const summary = readFileSync(join(dir, 'grid.summary.csv'), 'utf8').trimEnd().split('\n');
    expect(summary[0]).toBe(
      'optimizer,lr,momentum,seeds,ok,diverged,error,final_loss_mean,final_loss_std,final_loss_min,final_loss_max,rank',
    );
    expect(summary.length).toBe(1 + 2 + 4);
    const html = readFileSync(join(dir, 'grid.html'), 'utf8');
    expect(html).toContain('<section id="leaderboard"');
    expect(html).toContain('data-complete="true"');
    // The manifest no longer names a writer: the sweep is over.
    expect(manifestOf(csv).writer).toBeUndefined();
    // Curves kept in memory by the sweep: nothing run again for the report.
    expect(lastSweep.stdout).toMatch(/^report → .*grid\.html, summary → .*grid\.summary\.csv$/m);
  });

  it('writes neither with --no-report', async () => {
    const csv = await swept(['--no-report']);
    expect(readdirSync(join(csv, '..')).sort()).toEqual(['grid.csv', 'grid.csv.sweep.json', 'grid.json']);
  });

  it('resumed after a stop, gives the summary an uninterrupted sweep gives', async () => {
    const whole = await swept();
    const cut = await swept(['--no-report']);
    // As a stop leaves it: 7 of 18 runs, a torn eighth line, the manifest incomplete.
    const lines = readFileSync(cut, 'utf8').split('\n');
    writeFileSync(cut, `${lines.slice(0, 8).join('\n')}\n${lines[8].slice(0, 9)}`);
    writeFileSync(`${cut}.sweep.json`, JSON.stringify({ ...manifestOf(cut), complete: false }));
    const r = await run(
      SWEEP,
      join(cut, '..', 'grid.json'),
      '--out',
      cut,
      '--resume',
      '--no-progress',
      '--workers',
      '1',
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('resuming');
    const summaryOf = (csv: string): string => readFileSync(csv.replace(/\.csv$/, '.summary.csv'), 'utf8');
    expect(summaryOf(cut)).toBe(summaryOf(whole));
  });
});

describe('an early-stopping sweep', () => {
  it('writes rows rung by rung; its summary counts the pruned runs and is in run order', async () => {
    const dir = folder();
    const config = {
      ...GRID,
      name: 'halving',
      early_stopping: { method: 'successive-halving', min_steps: 50, reduction: 2 },
    };
    writeFileSync(join(dir, 'halving.json'), JSON.stringify(config));
    const csv = join(dir, 'halving.csv');
    const r = await run(SWEEP, join(dir, 'halving.json'), '--out', csv, '--no-progress', '--workers', '1');
    expect(r.code, r.stderr).toBe(0);
    const ids = readFileSync(csv, 'utf8')
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => Number(l.split(',')[0]));
    expect(ids).not.toEqual([...ids].sort((a, b) => a - b));
    const summary = readFileSync(join(dir, 'halving.summary.csv'), 'utf8').trimEnd().split('\n');
    expect(summary[0]).toContain(',error,pruned,final_loss_mean,');
    const rows = summary.slice(1).map((l) => l.split(','));
    expect(rows.map((c) => [c[0], c[1], c[2]])).toEqual([
      ['sgd', '0.05', ''],
      ['sgd', '0.5', ''],
      ['momentum', '0.05', '0.5'],
      ['momentum', '0.05', '0.9'],
      ['momentum', '0.5', '0.5'],
      ['momentum', '0.5', '0.9'],
    ]);
    const pruned = rows.reduce((n, c) => n + Number(c[7]), 0);
    expect(pruned).toBeGreaterThan(0);
    expect(readFileSync(join(dir, 'halving.html'), 'utf8')).toContain(`${pruned} pruned (stopped early)`);
  });
});

describe('npm run report', () => {
  it('writes the report to --out, and the summary beside the CSV', async () => {
    const csv = await swept(['--no-report']);
    const out = join(csv, '..', 'elsewhere.html');
    const r = await run(REPORT, csv, '--out', out);
    expect(r.code, r.stderr).toBe(0);
    // No curves kept (--no-report, no --curves): the runs drawn are run again, every
    // seed of each optimizer's best configuration (3 each).
    expect(r.stdout).toBe(
      `report → ${out} (6 runs run again for their curves)\nsummary → ${csv.replace(/\.csv$/, '.summary.csv')}\n`,
    );
    expect(readFileSync(out, 'utf8')).toMatch(/^<!doctype html>/);
  });

  it('of a stopped sweep: a report that says it is partial', async () => {
    const csv = await swept(['--no-report']);
    const lines = readFileSync(csv, 'utf8').split('\n');
    writeFileSync(csv, `${lines.slice(0, 6).join('\n')}\n`);
    writeFileSync(`${csv}.sweep.json`, JSON.stringify({ ...manifestOf(csv), complete: false }));
    const r = await run(REPORT, csv);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('report (partial: 5 of 18 runs)');
    const html = readFileSync(csv.replace(/\.csv$/, '.html'), 'utf8');
    expect(html).toContain('Partial sweep: 5 of 18 runs written');
  });

  const bad: [string, (csv: string) => string, RegExp][] = [
    ['a missing file', (csv) => `${csv}.gone.csv`, /: no such file$/],
    [
      'a CSV without its manifest',
      (csv) => {
        rmSync(`${csv}.sweep.json`);
        return csv;
      },
      /: no manifest .*\.sweep\.json beside it/,
    ],
    [
      'a torn CSV whose manifest says complete',
      (csv) => {
        const text = readFileSync(csv, 'utf8');
        writeFileSync(csv, text.slice(0, text.length - 20));
        return csv;
      },
      /: 17 of 18 runs, but its manifest says the sweep completed/,
    ],
    [
      'an edited CSV',
      (csv) => {
        writeFileSync(csv, readFileSync(csv, 'utf8').replace(/,ok,([0-9.e-]+),/, ',ok,lots,'));
        return csv;
      },
      /: row 2, column final_loss: "lots" is not what this tool writes/,
    ],
    [
      'a sweep still running',
      (csv) => {
        // This test process is alive: as a sweep's writer it is still running.
        writeFileSync(
          `${csv}.sweep.json`,
          JSON.stringify({ ...manifestOf(csv), complete: false, writer: { pid: process.pid } }),
        );
        return csv;
      },
      /: the sweep is still running \(process \d+\); report it when it ends/,
    ],
  ];
  for (const [what, spoil, message] of bad)
    it(`refuses ${what}: one line naming the file, exit 2, nothing written`, async () => {
      const csv = spoil(await swept(['--no-report']));
      const before = readdirSync(join(csv, '..')).sort();
      const r = await run(REPORT, csv);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      const lines = r.stderr.split('\n').filter(Boolean);
      expect(lines.length, r.stderr).toBe(1);
      expect(lines[0].startsWith(`report: ${csv}`), lines[0]).toBe(true);
      expect(lines[0]).toMatch(message);
      expect(readdirSync(join(csv, '..')).sort()).toEqual(before);
      expect(existsSync(csv.replace(/\.csv$/, '.html'))).toBe(false);
    });

  it('without a CSV says how to call it', async () => {
    const r = await run(REPORT);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('report: no CSV given: npm run report -- results/<name>.csv (see --help)\n');
  });
});
