/**
 * The command line, end to end: `node dist/src/cli.js …` as a child process from the
 * repository root (the global setup builds dist/). Good input writes the CSV and a
 * summary for people; bad input exits 2 with one line on stderr and creates nothing.
 */
import { execFile, spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { OPTIMIZER_NAMES } from '../src/optimizers/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const TMP = mkdtempSync(join(tmpdir(), 'sweep-cli-'));

afterAll(() => {
  // Give the read-only folder its permissions back so it can be removed.
  for (const dir of readdirSync(TMP)) if (dir.startsWith('readonly')) chmodSync(join(TMP, dir), 0o700);
  rmSync(TMP, { recursive: true, force: true });
});

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI to its end, without the end-of-sweep report (test/report-cli.test.ts's). */
function sweep(...args: string[]): Promise<Outcome> {
  const quiet = args.includes('--no-report') ? [] : ['--no-report'];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...quiet, ...args],
      { cwd: ROOT, maxBuffer: 64 * 2 ** 20 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

let fresh = 0;
/** A new empty folder under the temporary one. */
function folder(name = 'case'): string {
  const dir = join(TMP, `${name}-${fresh++}`);
  mkdirSync(dir);
  return dir;
}

const rows = (csv: string): Record<string, string>[] => parse(csv, { columns: true });

function withoutDuration(csv: string): string {
  const table = parse(csv, { columns: false }) as string[][];
  const k = table[0].indexOf('duration_ms');
  expect(k).toBeGreaterThanOrEqual(0);
  return table.map((r) => r.filter((_, i) => i !== k).join(',')).join('\n');
}

/** The best-run table's rows, by optimizer. */
function bestTable(text: string): Map<string, string[]> {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^optimizer\s+runs\s+ok\s+diverged\s+error\s+best final_loss\s+run_id/.test(l));
  expect(start, text).toBeGreaterThanOrEqual(0);
  const table = new Map<string, string[]>();
  for (const line of lines.slice(start + 1)) {
    const cells = line.trim().split(/\s+/);
    if (!(OPTIMIZER_NAMES as string[]).includes(cells[0])) break;
    table.set(cells[0], cells);
  }
  return table;
}

describe('a sweep from the command line', () => {
  it('configs/grid.json --out FILE: exit 0, header + 32 rows, a best-run table', async () => {
    const out = join(folder(), 'out.csv');
    const r = await sweep('configs/grid.json', '--out', out, '--workers', '2');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const csv = readFileSync(out, 'utf8');
    expect(csv.startsWith('run_id,optimizer,')).toBe(true);
    const parsed = rows(csv);
    expect(parsed.length).toBe(32);
    expect(parsed.map((x) => Number(x.run_id))).toEqual(Array.from({ length: 32 }, (_, i) => i));
    const table = bestTable(r.stdout);
    expect([...table.keys()]).toEqual(['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam']);
    const counts: Record<string, number> = { sgd: 4, momentum: 8, nesterov: 8, adagrad: 4, rmsprop: 4, adam: 4 };
    for (const [name, cells] of table) {
      expect(Number(cells[1]), name).toBe(counts[name]);
      // The best run named in the table has the lowest final loss of its optimizer.
      const mine = parsed.filter((x) => x.optimizer === name && x.status === 'ok');
      const best = mine.reduce((a, b) => (Number(b.final_loss) < Number(a.final_loss) ? b : a));
      expect(cells[6], name).toBe(best.run_id);
    }
    expect(r.stdout).toMatch(/32 runs in [\d.]+ s/);
  });

  /** `-` is standard output, given as `-o -` or `--out=-` (and see the next test). */
  it.each([{ out: ['-o', '-'] }, { out: ['--out=-'] }])(
    '$out writes the CSV to stdout and the text for people to stderr',
    async ({ out }) => {
      const r = await sweep('configs/grid.json', ...out, '--workers', '1');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.startsWith('run_id,optimizer,')).toBe(true);
      expect(rows(r.stdout).length).toBe(32);
      expect(r.stdout).not.toMatch(/best final_loss|runs in/);
      expect(bestTable(r.stderr).size).toBe(6);
      expect(r.stderr).toMatch(/32 runs in .*standard output/);
    },
  );

  // yargs takes a lone "-" as an option's value only when the option requires one.
  it('--out - (a separate argument) writes the CSV to stdout, as the help shows', async () => {
    const r = await sweep('configs/grid.json', '--out', '-', '--workers', '1');
    expect(r.code, r.stderr).toBe(0);
    expect(rows(r.stdout).length).toBe(32);
    expect(bestTable(r.stderr).size).toBe(6);
  });

  // `sweep … -o - | head`: the reader goes away before the CSV is written. The CLI may
  // stop, but must not crash with a stack trace (its contract: one line, exit 1 or 2).
  it('a reader that closes standard output early gets no stack trace', async () => {
    const child = spawn(process.execPath, [CLI, 'configs/grid.json', '-o', '-', '--workers', '1'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr, stderr).not.toMatch(/\n\s+at /);
    expect(stderr).not.toMatch(/Unhandled 'error' event/);
    expect(code).not.toBeNull();
  });

  it('--dry-run prints the runs per optimizer and the total, and writes no file', async () => {
    const dir = folder();
    const out = join(dir, 'sub', 'dry.csv');
    const r = await sweep('configs/grid.json', '--dry-run', '--out', out);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const [table, updates] = r.stdout.trim().split('\nupdates: ');
    expect(updates).toBe('960'); // 32 runs × 30 steps
    const counts = Object.fromEntries(
      table
        .split('\n')
        .slice(1)
        .map((line) => line.trim().split(/\s+/)),
    );
    expect(counts).toEqual({
      sgd: '4',
      momentum: '8',
      nesterov: '8',
      adagrad: '4',
      rmsprop: '4',
      adam: '4',
      total: '32',
    });
    expect(r.stdout.split('\n')[0]).toMatch(/^optimizer\s+runs$/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('--workers 1 and --workers 2 write the same CSV, duration_ms aside', async () => {
    const dir = folder();
    const [a, b] = await Promise.all(
      ['1', '2'].map((w) => sweep('configs/grid.json', '--out', join(dir, `w${w}.csv`), '--workers', w)),
    );
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    const one = readFileSync(join(dir, 'w1.csv'), 'utf8');
    const two = readFileSync(join(dir, 'w2.csv'), 'utf8');
    expect(withoutDuration(two)).toBe(withoutDuration(one));
    expect(rows(one).length).toBe(32);
  });

  it('--help names every option and gives an example', async () => {
    const r = await sweep('--help');
    expect(r.code).toBe(0);
    for (const option of ['--workers', '--out', '--dry-run', '--max-runs', '--progress', '--help'])
      expect(r.stdout, option).toContain(option);
    expect(r.stdout).toMatch(/Examples:/);
    expect(r.stdout).toMatch(/sweep -- configs\/\S+\.json/);
    // Every option listed comes with a description.
    for (const line of r.stdout.split('\n').filter((l) => /^\s+(-\w, )?--\w/.test(l)))
      expect(line.replace(/^\s+(-\w, )?--[\w-]+/, '').trim().length, line).toBeGreaterThan(0);
  });

  it("--help's examples name configs that exist", async () => {
    const r = await sweep('--help');
    const files = [...r.stdout.matchAll(/^\s+npm run sweep -- (configs\/\S+\.json)/gm)].map((m) => m[1]);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(existsSync(join(ROOT, file)), file).toBe(true);
  });
});

/** A config file under the temporary folder. */
function configFile(text: string): string {
  const path = join(folder('config'), 'config.json');
  writeFileSync(path, text);
  return path;
}

const GOOD = { name: 'cli', problem: { name: 'anisotropic-bowl' }, optimizers: ['sgd', 'momentum'], steps: 5 };
const config = (changes: object): string => configFile(JSON.stringify({ ...GOOD, ...changes }, null, 2));

/** Root runs ignore permission bits, so a read-only folder stays writable for it. */
function readOnlyFolderBlocksWriting(): { dir: string; blocks: boolean } {
  const dir = join(TMP, `readonly-${fresh++}`);
  mkdirSync(dir);
  chmodSync(dir, 0o500);
  try {
    writeFileSync(join(dir, 'probe'), '');
    rmSync(join(dir, 'probe'));
    return { dir, blocks: false };
  } catch {
    return { dir, blocks: true };
  }
}

describe('bad input: exit 2, one line on stderr, nothing created', () => {
  const readOnly = readOnlyFolderBlocksWriting();

  interface Case {
    why: string;
    args: (out: string) => string[];
    message: RegExp[];
  }
  const cases: Case[] = [
    {
      why: 'a missing config file',
      args: (out) => [join(TMP, 'no-such-config.json'), '--out', out],
      message: [/no-such-config\.json/, /no such file/],
    },
    {
      why: 'malformed JSON',
      args: (out) => [configFile('{\n  "name": "x",\n  "steps": 5,,\n  "optimizers": ["sgd"]\n}\n'), '--out', out],
      message: [/not valid JSON/, /line 3, column \d+/],
    },
    {
      why: 'an unknown optimizer',
      args: (out) => [config({ optimizers: ['sgd', 'sgdd'] }), '--out', out],
      message: [
        /optimizers\[1\]/,
        /"sgdd"/,
        /did you mean "sgd"\?/,
        ...OPTIMIZER_NAMES.map((n) => new RegExp(`\\b${n}\\b`)),
      ],
    },
    {
      why: 'a negative lr',
      args: (out) => [config({ lr: [0.1, -0.5] }), '--out', out],
      message: [/lr\[1\]/, /-0\.5/, /> 0/],
    },
    {
      why: 'an unknown key',
      args: (out) => [config({ lrr: 0.1 }), '--out', out],
      message: [/lrr/, /did you mean "lr"\?/],
    },
    {
      why: 'momentum 1.0',
      args: (out) => [configFile(JSON.stringify(GOOD).replace('"steps"', '"momentum": 1.0, "steps"')), '--out', out],
      message: [/momentum/, /< 1/, /got 1\b/],
    },
    { why: 'steps 0', args: (out) => [config({ steps: 0 }), '--out', out], message: [/steps/, />= 1/, /got 0/] },
    {
      why: 'steps 2.5',
      args: (out) => [config({ steps: 2.5 }), '--out', out],
      message: [/steps/, /integer/, /got 2\.5/],
    },
    {
      why: 'an unwritable output folder (under a regular file)',
      args: (out) => {
        const file = join(out, '..', '..', 'afile');
        writeFileSync(file, 'not a folder\n');
        return ['configs/grid.json', '--out', join(file, 'out.csv')];
      },
      message: [/--out/, /afile/],
    },
    {
      why: '--workers 0',
      args: (out) => ['configs/grid.json', '--workers', '0', '--out', out],
      message: [/--workers/, /got 0/],
    },
    { why: 'no config at all', args: (out) => ['--out', out], message: [/argument|config/] },
    {
      why: 'an unknown option',
      args: (out) => ['configs/grid.json', '--wokrers', '2', '--out', out],
      message: [/wokrers/],
    },
  ];

  it.concurrent.each(cases)('$why', async ({ args, message }) => {
    // The output would go into a folder that does not exist yet: it must stay so.
    const dir = folder();
    const out = join(dir, 'sub', 'out.csv');
    const r = await sweep(...args(out));
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n');
    expect(lines.length, r.stderr).toBe(2); // one line and its newline
    expect(lines[1]).toBe('');
    expect(r.stderr).toMatch(/^sweep: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).not.toMatch(/internal error/);
    for (const m of message) expect(r.stderr).toMatch(m);
    expect(readdirSync(dir).filter((f) => f !== 'afile')).toEqual([]);
  });

  it('an output file that already exists is left as it was', async () => {
    const dir = folder();
    const out = join(dir, 'out.csv');
    writeFileSync(out, 'precious\n');
    const r = await sweep('configs/grid.json', '--out', out);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n').length).toBe(2);
    expect(r.stderr).toMatch(/^sweep: .*out\.csv.*exists/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readFileSync(out, 'utf8')).toBe('precious\n');
    expect(readdirSync(dir)).toEqual(['out.csv']);
  });

  it.skipIf(!readOnly.blocks)('an unwritable output folder (read-only, for a user without root)', async () => {
    const out = join(readOnly.dir, 'out.csv');
    const r = await sweep('configs/grid.json', '--out', out);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n').length).toBe(2);
    expect(r.stderr).toMatch(/^sweep: .*cannot write/);
    expect(existsSync(out)).toBe(false);
  });
});
