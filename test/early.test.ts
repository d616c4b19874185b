/**
 * Early stopping, deterministic: a tiny bowl grid whose survivors follow from the
 * rules by hand; the same CSV for 1 and 2 workers and through child processes, with
 * each method; a journal that lets a sweep resume without redoing a rung; a kill in
 * the middle of a rung resumed to the uninterrupted CSV; bad input refused.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { RowWriter, columnsOf, headerLine } from '../src/csv.js';
import { brackets, levels, plannedUpdates, runEarlyStopping, stopping } from '../src/early.js';
import type { Executor } from '../src/executor.js';
import { createExecutor, type ExecutorName } from '../src/executors/index.js';
import type { Plan } from '../src/grid.js';
import { readSweep } from '../src/read.js';
import { records, type RunRecord } from '../src/results.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'sweep-early-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const plan = (config: object): Plan =>
  parseConfig(JSON.stringify({ name: 'early', seeds: [0], ...config }), 'early.json');

/** The sweep's CSV and its records, in output order, and what it cost. */
async function early(p: Plan, executor: Executor, journaled: RunRecord[] = []) {
  let csv = headerLine(columnsOf(p));
  const given: RunRecord[] = [];
  const journal: RunRecord[] = [];
  const outcome = await runEarlyStopping(p, {
    executor,
    journal: { accept: (b) => void journal.push(...records(b)) },
    journaled,
    consumers: [
      new RowWriter(p, (bytes) => void (csv += Buffer.from(bytes).toString('utf8'))),
      { accept: (b) => void given.push(...records(b)) },
    ],
  });
  return { csv, given, journal, outcome };
}

const stable = (csv: string) =>
  (parse(csv, { columns: true }) as Record<string, string>[]).map(({ duration_ms: _, ...rest }) => rest);

describe('the rules', () => {
  it('rungs at min_steps · reduction^k below steps; median checkpoints every `every` after warmup', () => {
    expect(levels({ method: 'successive-halving', minSteps: 25, reduction: 3 }, 200)).toEqual([25, 75, 200]);
    expect(levels({ method: 'hyperband', minSteps: 10, reduction: 2 }, 80)).toEqual([10, 20, 40, 80]);
    expect(levels({ method: 'median', warmupSteps: 50, every: 25 }, 125)).toEqual([50, 75, 100, 125]);
  });

  it('successive halving keeps the best ⌈n / reduction⌉, NaN worst, ties to the lower id', () => {
    const e = { method: 'successive-halving', minSteps: 1, reduction: 3 } as const;
    expect([...stopping(e, [0, 1, 2, 3, 4], [5, NaN, 1, 5, 2])].sort()).toEqual([0, 1, 3]);
    expect([...stopping(e, [7, 8, 9, 10], [1, 1, 1, 1])].sort()).toEqual([10, 9]);
  });

  it('median stops what is worse than the median of the cohort, and every non-finite value', () => {
    const e = { method: 'median', warmupSteps: 1, every: 1 } as const;
    expect([...stopping(e, [0, 1, 2, 3], [1, 2, 3, 4])].sort()).toEqual([2, 3]); // median 2.5
    expect([...stopping(e, [0, 1, 2], [1, 2, Infinity])].sort()).toEqual([2]); // median 2
  });

  it('hyperband deals configurations to brackets in proportion, deterministically, mixing run order', () => {
    const e = { method: 'hyperband', minSteps: 10, reduction: 3 } as const;
    // K = 2 rungs: brackets s = 2, 1, 0 want ⌈3/3·9⌉ = 9, ⌈3/2·3⌉ = 5, ⌈3/1·1⌉ = 3 configurations.
    const { of, start } = brackets(e, 17, 2);
    expect(start).toEqual([0, 1, 2]);
    expect([0, 1, 2].map((b) => of.filter((x) => x === b).length)).toEqual([9, 5, 3]);
    expect(brackets(e, 17, 2).of).toEqual(of);
    expect(new Set(of.slice(0, 4))).toEqual(new Set([0, 1, 2]));
  });
});

describe('a tiny bowl grid, worked out by hand', () => {
  // sgd from (−7, 2): x_t = −7(1 − η/10)^t, y_t = 2(1 − 2η)^t, f = x²/20 + y².
  const f = (lr: number, t: number) => (-7 * (1 - lr / 10) ** t) ** 2 / 20 + (2 * (1 - 2 * lr) ** t) ** 2;
  const p = plan({
    problem: { name: 'anisotropic-bowl' },
    optimizers: ['sgd'],
    lr: [0.001, 0.01, 0.1, 0.5],
    steps: 40,
    early_stopping: { method: 'successive-halving', min_steps: 10, reduction: 2 },
  });

  it('at 10 steps lr 0.5 and 0.1 go on; at 20 only lr 0.5; rows rung by rung', async () => {
    // By hand: f(·, 10) = 6.29, 5.07, 2.05, 0.88 → keep 0.5 and 0.1; f(·, 20): 0.315 < 1.64.
    expect(f(0.5, 10)).toBeLessThan(f(0.1, 10));
    expect(f(0.1, 10)).toBeLessThan(f(0.01, 10));
    expect(f(0.5, 20)).toBeLessThan(f(0.1, 20));
    const executor = createExecutor('piscina', { workers: 2 });
    try {
      const { given, outcome } = await early(p, executor);
      expect(given.map((r) => [r.runId, r.status, r.status === 'pruned' ? r.prunedAt : null])).toEqual([
        [0, 'pruned', 10],
        [1, 'pruned', 10],
        [2, 'pruned', 20],
        [3, 'ok', null],
      ]);
      const lrs = [0.001, 0.01, 0.1, 0.5];
      for (const r of given) {
        const t = r.status === 'pruned' ? r.prunedAt : 40;
        expect(r.status === 'ok' || r.status === 'pruned' ? r.finalLoss : NaN).toBeCloseTo(f(lrs[r.runId], t), 12);
      }
      // Updates: 4 runs × 10, 2 × 20, 1 × 40 (survivors rerun from the start).
      expect(outcome.updates).toBe(40 + 40 + 40);
      expect(plannedUpdates(p)).toEqual({ full: 160, early: 120 });
    } finally {
      await executor.close();
    }
  });
});

describe.each([
  ['successive-halving', { method: 'successive-halving', min_steps: 8, reduction: 3 }],
  ['hyperband', { method: 'hyperband', min_steps: 4, reduction: 2 }],
  ['median', { method: 'median', warmup_steps: 10, every: 15 }],
])('%s: the same CSV for 1 and 2 workers and for child processes', (_, es) => {
  const p = plan({
    problem: { name: 'rosenbrock' },
    optimizers: ['sgd', 'momentum', 'adam', 'rmsprop'],
    lr: [0.0001, 0.001, 0.003, 0.01, 0.1],
    momentum: [0.5, 0.9],
    seeds: [0, 1],
    steps: 60,
    early_stopping: es,
  });

  it('identical, and every run once, some pruned, some finished', async () => {
    const csvs: string[] = [];
    for (const [name, workers] of [
      ['piscina', 1],
      ['piscina', 2],
      ['child', 2],
    ] as [ExecutorName, number][]) {
      const executor = createExecutor(name, { workers });
      try {
        const { csv, given } = await early(p, executor);
        expect(new Set(given.map((r) => r.runId)).size).toBe(p.total);
        expect(given.some((r) => r.status === 'pruned')).toBe(true);
        expect(given.some((r) => r.status !== 'pruned')).toBe(true);
        csvs.push(csv);
      } finally {
        await executor.close();
      }
    }
    expect(stable(csvs[1])).toEqual(stable(csvs[0]));
    expect(stable(csvs[2])).toEqual(stable(csvs[0]));
  });
});

describe('the journal: a resumed sweep redoes no rung', () => {
  it('given the first rung records, it runs only the rest, and writes the same rows', async () => {
    const p = plan({
      problem: { name: 'quadratic', dim: 50 },
      optimizers: ['sgd', 'adam'],
      lr: [0.001, 0.01, 0.1, 0.3],
      seeds: [0, 1],
      steps: 90,
      early_stopping: { method: 'successive-halving', min_steps: 10, reduction: 3 },
    });
    const executor = createExecutor('piscina', { workers: 2 });
    try {
      const whole = await early(p, executor);
      const cut = 11; // past the first rung (16 runs at 10 steps) into … within it
      const resumed = await early(p, executor, whole.journal.slice(0, cut));
      expect(stable(resumed.csv)).toEqual(stable(whole.csv));
      expect(resumed.journal.map((r) => r.runId)).toEqual(whole.journal.slice(cut).map((r) => r.runId));
      expect(resumed.outcome.updates).toBe(whole.outcome.updates - cut * 10);
    } finally {
      await executor.close();
    }
  });
});

describe('through the CLI', () => {
  const config = join(dir, 'early.json');
  const BIG = {
    name: 'early-cli',
    problem: { name: 'quadratic', dim: 20000, condition: 100 },
    optimizers: ['sgd', 'momentum', 'adagrad', 'adam'],
    lr: [0.001, 0.01, 0.1, 1],
    seeds: [0, 1],
    steps: 270,
    early_stopping: { method: 'successive-halving', min_steps: 30, reduction: 3 },
  };
  writeFileSync(config, JSON.stringify(BIG));

  const run = (args: string[], killWhen?: (journal: string) => boolean) =>
    new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, '--no-report', ...args, '--no-progress'], { cwd: ROOT });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += String(d)));
      child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
      const timer =
        killWhen &&
        setInterval(() => {
          const j = `${args[args.indexOf('--out') + 1]}.rungs.csv`;
          if (existsSync(j) && killWhen(readFileSync(j, 'utf8'))) child.kill('SIGKILL');
        }, 5);
      child.on('close', (code, signal) => {
        if (timer) clearInterval(timer);
        resolve({ code, signal, stdout, stderr });
      });
    });

  it('--dry-run says the updates with early stopping and without', async () => {
    const r = await run([config, '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    // 16 configurations × 2 seeds: 32·30 + 12·90 + 4·270 = 3,120 of 8,640 updates.
    expect(r.stdout).toContain('updates: at most 3,120 with early stopping (successive-halving, 36.1%), 8,640 without');
  });

  it('killed in the middle of a rung, resumed: the uninterrupted CSV, and the journal gone at the end', async () => {
    const reference = join(dir, 'reference.csv');
    const whole = await run([config, '--out', reference]);
    expect(whole.code, whole.stderr).toBe(0);
    expect(existsSync(`${reference}.rungs.csv`)).toBe(false);

    const out = join(dir, 'killed.csv');
    // Kill once the first rung is under way: some of its 32 records journaled, not all.
    const killed = await run([config, '--out', out], (j) => j.split('\n').length > 6);
    expect(killed.signal).toBe('SIGKILL');
    const journaled = readFileSync(`${out}.rungs.csv`, 'utf8').split('\n').length - 2;
    expect(journaled).toBeGreaterThan(0);
    const resumed = await run([config, '--out', out, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(stable(readFileSync(out, 'utf8'))).toEqual(stable(readFileSync(reference, 'utf8')));
    expect(existsSync(`${out}.rungs.csv`)).toBe(false);

    const back = await readSweep(out);
    expect(back.complete).toBe(true);
    // Of the 32 runs, 4 finish; sgd and momentum at lr 0.1 and 1 (8 runs) explode
    // within the first rung, diverged before it ends (run.ts, divergenceLimit); the
    // other 20 are pruned.
    const count = (status: string) => back.records.filter((r) => r.status === status).length;
    expect([count('ok'), count('diverged'), count('pruned')]).toEqual([4, 8, 20]);
  });

  it.each([
    [{ method: 'asha', min_steps: 10 }, 'early_stopping.method', 'asha'],
    [{ method: 'successive-halving', min_steps: 270 }, 'early_stopping.min_steps', '270'],
    [{ method: 'successive-halving', min_steps: 10, reduction: 1 }, 'early_stopping.reduction', '1'],
    [{ method: 'hyperband', min_steps: 2.5 }, 'early_stopping.min_steps', '2.5'],
    [{ method: 'median', warmup_steps: 10, every: 0 }, 'early_stopping.every', '0'],
    [{ method: 'median', warmup_steps: 10, every: 5, reduction: 3 }, 'early_stopping.reduction', 'known key'],
  ])('bad: %j', async (es, field, value) => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...BIG, early_stopping: es }));
    const out = join(dir, 'bad-out', 'x.csv');
    const r = await run([bad, '--out', out]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(bad);
    expect(lines[0]).toContain(field);
    expect(lines[0]).toContain(value);
    expect(existsSync(join(dir, 'bad-out'))).toBe(false);
  });
});
