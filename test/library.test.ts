/**
 * The library (src/index.ts), in this process: records named as the CSV's columns,
 * the same from a live sweep and from the CSV read back; a loop left early stops the
 * sweep and leaves a CSV that resumes; a lagging loop holds the sweep back; a signal
 * stops it as Ctrl-C stops the CLI; validateConfig's message is the CLI's line; and
 * the README's example runs as written.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, UsageError, readSweep, sweep, validateConfig, type SweepRecord } from '../src/index.js';
import { batchSize } from '../src/sweep.js';
import { execute } from './helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const TMP = mkdtempSync(join(tmpdir(), 'sweep-library-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const GRID = join(ROOT, 'configs', 'grid.json');
/** Many small batches: 6 optimizers × 25 rates × 40 seeds = 6,000 runs on a 2-D
 * quadratic (its start comes from the seed). */
const MANY = {
  name: 'many',
  problem: { name: 'quadratic', dim: 2 },
  optimizers: ['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'],
  lr: Array.from({ length: 25 }, (_, i) => 0.001 * 1.3 ** i),
  seeds: Array.from({ length: 40 }, (_, i) => i),
  steps: 30,
};

const withoutDuration = (list: readonly SweepRecord[]) => list.map(({ duration_ms: _, ...rest }) => rest);

async function all(iterable: AsyncIterable<SweepRecord>): Promise<SweepRecord[]> {
  const out: SweepRecord[] = [];
  for await (const r of iterable) out.push(r);
  return out;
}

describe('records are the CSV’s rows', () => {
  it('named and ordered as the header; numbers as numbers, blanks as undefined; readSweep gives the same', async () => {
    const out = join(TMP, 'grid.csv');
    const run = sweep(GRID, { workers: 2, out });
    const given = await all(run);
    const summary = await run.summary;
    expect(summary.runs).toBe(32);
    expect(summary.interrupted).toBe(false);

    const text = readFileSync(out, 'utf8');
    const header = text.slice(0, text.indexOf('\n')).split(',');
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    expect(given.length).toBe(rows.length);
    given.forEach((r, i) => {
      expect(Object.keys(r)).toEqual(header);
      for (const column of header) {
        const cell = rows[i][column];
        const value = r[column];
        if (cell === '') expect(value, `${i} ${column}`).toBeUndefined();
        else if (typeof value === 'number') expect(value, `${i} ${column}`).toBe(Number(cell));
        else expect(value, `${i} ${column}`).toBe(cell);
      }
    });
    // Grid runs of sgd have no momentum; nesterov's lr-1 runs diverge and have no final loss.
    expect(given[0]).toMatchObject({ run_id: 0, optimizer: 'sgd', lr: 0.001, momentum: undefined, status: 'ok' });
    expect(given.find((r) => r.status === 'diverged')).toMatchObject({ final_loss: undefined });

    const back = await readSweep(out);
    expect(back.complete).toBe(true);
    expect(back.records).toEqual(given);
    expect(back.plan).toEqual(summary.plan);
    // The best run the summary names is the ok run with the lowest final loss.
    const sgd = summary.optimizers.find((o) => o.optimizer === 'sgd')!;
    const lowest = given.filter((r) => r.optimizer === 'sgd').sort((a, b) => a.final_loss! - b.final_loss!)[0];
    expect(sgd.best).toMatchObject({ run_id: lowest.run_id, column: 'final_loss', value: lowest.final_loss });
    expect(sgd.best!.settings).toEqual({ lr: lowest.lr });
  });

  it("a problem's swept options are columns too, in the header's place", async () => {
    const out = join(TMP, 'axes.csv');
    const config = {
      name: 'axes',
      problem: { name: 'quadratic', dim: 3, condition: [10, 100] },
      optimizers: ['sgd', 'adam'],
      steps: 10,
    };
    const given = await all(sweep(config, { workers: 1, out }));
    const text = readFileSync(out, 'utf8');
    const header = text.slice(0, text.indexOf('\n')).split(',');
    expect(header).toContain('condition');
    for (const r of given) expect(Object.keys(r)).toEqual(header);
    expect(given.map((r) => r.condition)).toEqual([10, 100, 10, 100]);
    expect((await readSweep(out)).records).toEqual(given);
  });

  it('the same records on 1 thread, 2 threads and child processes', async () => {
    const [a, b, c] = await Promise.all([
      all(sweep(GRID, { workers: 1 })),
      all(sweep(GRID, { workers: 2 })),
      all(sweep(GRID, { workers: 2, executor: 'child' })),
    ]);
    expect(withoutDuration(b)).toEqual(withoutDuration(a));
    expect(withoutDuration(c)).toEqual(withoutDuration(a));
  });

  it('a config object, and its warning to onWarning', async () => {
    const warnings: string[] = [];
    const records = await all(
      sweep(
        { name: 'w', problem: { name: 'anisotropic-bowl' }, optimizers: ['sgd'], steps: 5, seeds: [0, 1] },
        { workers: 1, onWarning: (m) => warnings.push(m) },
      ),
    );
    expect(records.map((r) => r.seed)).toEqual([0, 1]);
    expect(warnings).toEqual([expect.stringMatching(/^config: seeds \[0,1\]: anisotropic-bowl starts every run/)]);
  });
});

describe('stopping, and holding back', () => {
  it('break: the loop is left at once, the summary says interrupted, the CSV so far resumes to the whole', async () => {
    const config = { ...MANY, name: 'broken' };
    const out = join(TMP, 'broken.csv');
    const run = sweep(config, { workers: 2, out });
    let seen = 0;
    for await (const _ of run) if (++seen === 10) break;
    const summary = await run.summary;
    expect(summary.interrupted).toBe(true);
    expect(summary.runs).toBeGreaterThanOrEqual(10);
    expect(summary.runs).toBeLessThan(6000);
    const cut = await readSweep(out);
    expect(cut.complete).toBe(false);
    expect(cut.records.length).toBe(summary.runs);

    const rest = sweep(config, { workers: 2, out, resume: true });
    const resumed = await all(rest);
    expect(resumed[0].run_id).toBe(summary.runs);
    expect((await rest.summary).interrupted).toBe(false);
    const whole = await readSweep(out);
    expect(whole.complete).toBe(true);
    const reference = await all(sweep(config, { workers: 2 }));
    expect(withoutDuration(whole.records)).toEqual(withoutDuration(reference));
  });

  it('a lagging loop holds the sweep back: runs done stay within two batches of those taken', async () => {
    const plan = await validateConfig(MANY);
    const size = batchSize(plan, 2);
    expect(plan.total / size).toBeGreaterThan(6);
    const done: number[] = [];
    let taken = 0;
    const run = sweep(MANY, { workers: 2, onProgress: (p) => done.push(p.done), progressMs: 10 });
    for await (const _ of run) {
      if (++taken === 1) {
        await new Promise((r) => setTimeout(r, 400));
        // The batch in hand, and at most two more handed over.
        expect(done.length).toBeGreaterThan(3);
        expect(Math.max(...done)).toBeLessThanOrEqual(3 * size);
      }
    }
    expect(taken).toBe(plan.total);
    expect((await run.summary).runs).toBe(plan.total);
    // Progress is reported as it goes, and once more at the end, with every run done.
    expect(done.at(-1)).toBe(plan.total);
    expect(done).toEqual([...done].sort((a, b) => a - b));
  });

  it('a signal stops it as Ctrl-C does: the loop ends normally, in order, interrupted', async () => {
    // Enough runs that they cannot all be in flight when the first record comes (the
    // coordinator submits a bounded window ahead of what it has passed on).
    const many = { ...MANY, seeds: Array.from({ length: 400 }, (_, i) => i) };
    const controller = new AbortController();
    const run = sweep(many, { workers: 2, signal: controller.signal });
    const ids: number[] = [];
    for await (const r of run) {
      ids.push(r.run_id);
      if (ids.length === 1) controller.abort();
    }
    expect(ids).toEqual(ids.map((_, i) => i));
    expect(ids.length).toBeLessThan(60_000);
    expect(await run.summary).toMatchObject({ interrupted: true, runs: ids.length });
  });

  it('done() runs it without a loop; a sweep runs once', async () => {
    const out = join(TMP, 'done.csv');
    const run = sweep(GRID, { workers: 2, out });
    const summary = await run.done();
    expect(summary.runs).toBe(32);
    expect((await readSweep(out)).records.length).toBe(32);
    expect(() => run[Symbol.asyncIterator]()).toThrow(/runs once/);
  });
});

describe('bad input: the CLI’s one line, before anything runs', () => {
  const bad = { name: 'bad', problem: { name: 'anisotropic-bowl' }, optimizers: ['sgd'], lr: [0.1, -1], steps: 5 };

  it('validateConfig rejects with the message the CLI prints', async () => {
    const file = join(TMP, 'bad.json');
    writeFileSync(file, JSON.stringify(bad));
    const error = await validateConfig(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const cli = await execute(process.execPath, [CLI, file], { cwd: ROOT });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toBe(`sweep: ${(error as Error).message}\n`);
    expect((error as Error).message).toBe(`${file}: lr[1] must be > 0, got -1`);
    // A config object is named "config".
    await expect(validateConfig(bad)).rejects.toThrow(/^config: lr\[1\] must be > 0, got -1$/);
    expect((await validateConfig(GRID)).total).toBe(32);
  });

  it('sweep: the loop throws it, the summary rejects with it, and no file is written', async () => {
    const out = join(TMP, 'never', 'x.csv');
    const run = sweep(bad, { out });
    await expect(all(run)).rejects.toThrow(/^config: lr\[1\] must be > 0/);
    await expect(run.summary).rejects.toBeInstanceOf(ConfigError);
    expect(existsSync(join(TMP, 'never'))).toBe(false);
  });

  it.each([
    [{ workers: 0 }, /^options\.workers must be an integer >= 1, got 0$/],
    [{ executor: 'gpu' as never }, /^options\.executor must be one of piscina, child, redis, got gpu$/],
    [{ resume: true }, /^options\.resume needs options\.out/],
    [{ executor: 'redis' as const }, /^options\.executor redis needs options\.redis$/],
    [{ curveEvery: 5 }, /^options\.curveEvery needs options\.curves/],
  ])('options %j', async (options, says) => {
    await expect(sweep(GRID, options).done()).rejects.toThrow(UsageError);
    await expect(sweep(GRID, options).done()).rejects.toThrow(says);
  });
});

describe("the README's example", () => {
  it('runs as written, from the repository (the package imports itself by name)', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## As a library'));
    const code = /```js\n([\s\S]*?)```/.exec(section)![1];
    expect(code).toContain("from 'sweep'");
    const dir = join(ROOT, 'scratch');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `readme-example-${process.pid}.mjs`);
    writeFileSync(file, code);
    try {
      const r = await execute(process.execPath, [file], { cwd: ROOT });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      const lines = r.stdout.trim().split('\n');
      // A line per run under 0.01, then each optimizer's line with its best, then the time.
      expect(lines.filter((l) => /^\d+ /.test(l)).length).toBeGreaterThan(0);
      for (const o of ['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'])
        expect(
          lines.some((l) => l.startsWith(`${o} `) && / ok, best /.test(l)),
          o,
        ).toBe(true);
      expect(lines.at(-1)).toMatch(/^\d+\.\d\d s$/);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
