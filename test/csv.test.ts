/**
 * The CSV a sweep writes, through the real thread pool: its columns, one row per run
 * in run order, values equal to the specs and to runs done here without threads (at
 * full precision), blanks where a column does not apply, divergence as data, output
 * independent of the number of workers and of the batch size, and the formula guard.
 */
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { specAt, type AxisName, type Plan } from '../src/grid.js';
import { HYPER } from '../src/optimizers/index.js';
import type { Executor } from '../src/executor.js';
import { createExecutor } from '../src/executors/index.js';
import { PROBLEMS } from '../src/problems/index.js';
import { COLUMN_DOCS, columnsOf, csvLine, headerLine } from '../src/csv.js';
import { collect, makeProblem, runHere, type Collected } from './helpers.js';

type Row = Record<string, string>;

let one: Executor;
let two: Executor;

beforeAll(() => {
  one = createExecutor('piscina', { workers: 1 });
  two = createExecutor('piscina', { workers: 2 });
});

afterAll(async () => {
  await Promise.all([one?.close(), two?.close()]);
});

const plan = (config: object): Plan => parseConfig(JSON.stringify({ name: 'csv-test', ...config }), 'csv-test.json');

function headerOf(p: Plan): string {
  return headerLine(columnsOf(p));
}

/** Runs `p` through `runSweep`, returning the CSV (header first) and the summary. */
type SweepSummary = Collected['outcome'] & { optimizers: Collected['summary'] };

async function sweep(p: Plan, executor: Executor, batchSize?: number): Promise<{ csv: string; summary: SweepSummary }> {
  const { csv, outcome, summary } = await collect(p, executor, { batchSize });
  expect(csv.startsWith(headerOf(p))).toBe(true);
  return { csv, summary: { ...outcome, optimizers: summary } };
}

const rows = (csv: string): Row[] => parse(csv, { columns: true });

/** The CSV without one column: cells here never hold commas or quotes (checked). */
function withoutColumn(csv: string, column: string): string {
  expect(csv).not.toMatch(/"/);
  const lines = csv.split('\n');
  const k = lines[0].split(',').indexOf(column);
  expect(k).toBeGreaterThanOrEqual(0);
  return lines
    .map((line) =>
      line === ''
        ? line
        : line
            .split(',')
            .filter((_, i) => i !== k)
            .join(','),
    )
    .join('\n');
}

/** A number as JavaScript writes it: optional minus, digits, optional fraction and exponent. */
const PLAIN_NUMBER = /^-?\d+(\.\d+)?(e[+-]\d+)?$/;

// Quadratic: every optimizer, several rates (lr 1000 overflows sgd within 40 steps:
// the largest curvature is 10, so each step multiplies a coordinate by about −10⁴),
// momentum on two optimizers, a start drawn from each seed.
const MAIN = {
  problem: { name: 'quadratic', dim: 8, condition: 10 },
  optimizers: ['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'],
  lr: [0.001, 0.01, 0.1, 1000],
  momentum: [0.5, 0.9],
  steps: 40,
  seeds: [0, 1, 2],
};

describe('a sweep through the thread pool writes the CSV', () => {
  const p = plan(MAIN);
  let csv: string;
  let parsed: Row[];
  let summary: SweepSummary;

  beforeAll(async () => {
    ({ csv, summary } = await sweep(p, two));
    parsed = rows(csv);
  });

  it('header first, once; every fixed column documented, every other one an axis or a metric', () => {
    const header = csv.slice(0, csv.indexOf('\n')).split(',');
    expect(`${header.join(',')}\n`).toBe(headerOf(p));
    expect(csv.split('\n').filter((line) => line.startsWith('run_id,')).length).toBe(1);
    const metrics = PROBLEMS[p.problem.name].metrics(p.problem.options);
    const axes = p.columns as readonly string[];
    for (const column of header) {
      const documented =
        Object.hasOwn(COLUMN_DOCS, column) ||
        (Object.hasOwn(HYPER, column) && axes.includes(column)) ||
        metrics.includes(column);
      expect(documented, column).toBe(true);
    }
    // Every documented fixed column is there (trial only in random search, pruned_at
    // only with early stopping).
    for (const column of Object.keys(COLUMN_DOCS))
      expect(header.includes(column), column).toBe(column !== 'trial' && column !== 'pruned_at');
    expect(new Set(header).size).toBe(header.length);
    expect(header.slice(0, 2)).toEqual(['run_id', 'optimizer']);
  });

  it('one row per run, in run_id order', () => {
    expect(p.total).toBe(3 * (4 + 8 + 8 + 4 + 4 + 4));
    expect(parsed.map((r) => r.run_id)).toEqual(Array.from({ length: p.total }, (_, i) => String(i)));
    expect(csv.endsWith('\n')).toBe(true);
    expect(csv.split('\n').length).toBe(p.total + 2); // header, rows, and the empty tail
  });

  it('values equal the specs and runs done in this thread, at full precision', async () => {
    const metrics = PROBLEMS[p.problem.name].metrics(p.problem.options);
    for (const r of parsed) {
      const spec = specAt(p, Number(r.run_id));
      expect(r.optimizer).toBe(spec.optimizer);
      expect(Number(r.seed)).toBe(spec.seed);
      expect(Number(r.steps)).toBe(spec.steps);
      for (const axis of p.columns) {
        const value = spec.axes[axis as AxisName];
        expect(r[axis], `${axis} of run ${spec.id}`).toBe(value === undefined ? '' : String(value));
      }
      const { result } = runHere(spec, await makeProblem(p.problem.name, { ...p.problem.options }, spec.seed));
      expect(r.status).toBe(result.status);
      if (result.status === 'ok') {
        expect(Number(r.final_loss)).toBe(result.finalLoss);
        expect(r.diverged_at).toBe('');
        metrics.forEach((m, k) => expect(Number(r[m])).toBe(result.metrics[k]));
      } else {
        expect(r.final_loss).toBe('');
        expect(Number(r.diverged_at)).toBe(result.divergedAt);
      }
      expect(Number(r.best_loss)).toBe(result.bestLoss);
      expect(r.error).toBe('');
      expect(Number(r.duration_ms)).toBeGreaterThanOrEqual(0);
    }
  });

  it('has both outcomes in this sweep (lr 1000 diverges for sgd)', () => {
    expect(parsed.some((r) => r.status === 'ok')).toBe(true);
    expect(parsed.some((r) => r.status === 'diverged' && r.optimizer === 'sgd')).toBe(true);
  });

  it('blank where an axis does not apply', () => {
    for (const r of parsed) {
      const takesMomentum = r.optimizer === 'momentum' || r.optimizer === 'nesterov';
      expect(r.momentum === '', `${r.optimizer} momentum "${r.momentum}"`).toBe(!takesMomentum);
      expect(r.rho === '').toBe(r.optimizer !== 'rmsprop');
      expect(r.beta1 === '').toBe(r.optimizer !== 'adam');
      expect(r.eps === '').toBe(!['adagrad', 'rmsprop', 'adam'].includes(r.optimizer));
      expect(r.lr).not.toBe('');
    }
  });

  it('numbers in plain, shortest round-trip form: no locale, no padding', () => {
    const text = new Set(['optimizer', 'status', 'error']);
    for (const r of parsed)
      for (const [column, cell] of Object.entries(r)) {
        if (text.has(column) || cell === '') continue;
        expect(cell, `${column} = ${cell}`).toMatch(PLAIN_NUMBER);
        if (column !== 'duration_ms') expect(String(Number(cell))).toBe(cell);
      }
  });

  it('the summary agrees with the rows', () => {
    expect(summary.runs).toBe(p.total);
    for (const s of summary.optimizers) {
      const mine = parsed.filter((r) => r.optimizer === s.optimizer);
      expect(s.runs).toBe(mine.length);
      expect(s.ok).toBe(mine.filter((r) => r.status === 'ok').length);
      expect(s.diverged).toBe(mine.filter((r) => r.status === 'diverged').length);
      expect(s.error).toBe(0);
      const best = Math.min(...mine.filter((r) => r.status === 'ok').map((r) => Number(r.final_loss)));
      expect(s.best?.value).toBe(best);
      expect(Number(mine.find((r) => r.run_id === String(s.best?.spec.id))?.final_loss)).toBe(best);
    }
  });
});

describe('random search in the CSV', () => {
  it('has a trial column and the sampled values', async () => {
    const p = plan({
      problem: { name: 'anisotropic-bowl' },
      optimizers: ['sgd', 'adam'],
      lr: { distribution: 'log-uniform', min: 1e-3, max: 1 },
      trials: 5,
      steps: 10,
    });
    const parsed = rows((await sweep(p, one)).csv);
    expect(Object.keys(parsed[0])).toContain('trial');
    expect(parsed.length).toBe(10);
    for (const r of parsed) {
      const spec = specAt(p, Number(r.run_id));
      expect(Number(r.trial)).toBe(spec.trial);
      expect(Number(r.lr)).toBe(spec.hyper.lr);
    }
  });
});

describe('divergence is data', () => {
  it.each([
    { problem: { name: 'anisotropic-bowl' }, lr: [0.1, 100], steps: 200 },
    { problem: { name: 'rosenbrock', dim: 2 }, lr: [0.001, 100], steps: 50 },
  ])('sgd with lr 100 on $problem.name: status diverged, blank final_loss, diverged_at', async (config) => {
    const p = plan({ ...config, optimizers: ['sgd'] });
    const { csv, summary } = await sweep(p, one);
    const [fine, blown] = rows(csv);
    expect(fine.status).toBe('ok');
    expect(blown.status).toBe('diverged');
    expect(blown.final_loss).toBe('');
    const expected = runHere(specAt(p, 1), await makeProblem(p.problem.name, { ...p.problem.options })).result;
    expect(expected.status).toBe('diverged');
    expect(Number(blown.diverged_at)).toBe(expected.divergedAt);
    expect(expected.divergedAt).toBeGreaterThan(0);
    expect(expected.divergedAt).toBeLessThanOrEqual(config.steps);
    // The start was finite, so the best loss is a number; the final metrics are blank.
    expect(Number(blown.best_loss)).toBe(expected.bestLoss);
    for (const m of PROBLEMS[p.problem.name].metrics(p.problem.options)) expect(blown[m]).toBe('');
    expect(summary.optimizers[0]).toMatchObject({ runs: 2, ok: 1, diverged: 1, error: 0 });
    expect(summary.optimizers[0].best?.spec.id).toBe(0);
  });
});

describe('the CSV does not depend on the workers or the batching', () => {
  // 10 seeds × (5 + 10 + 10 + 5 + 5 + 5) = 400 runs, with diverging ones among them.
  const p = plan({ ...MAIN, lr: [0.0001, 0.001, 0.01, 0.1, 1000], seeds: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] });
  const results = new Map<string, string>();
  const variants = [
    { name: '1 worker', workers: 1, batchSize: undefined },
    { name: '2 workers', workers: 2, batchSize: undefined },
    { name: '1 worker, batches of 3', workers: 1, batchSize: 3 },
    { name: '2 workers, batches of 3', workers: 2, batchSize: 3 },
    { name: '2 workers, batches of 1', workers: 2, batchSize: 1 },
  ];

  beforeAll(async () => {
    expect(p.total).toBe(400);
    for (const v of variants) {
      const { csv } = await sweep(p, v.workers === 1 ? one : two, v.batchSize);
      results.set(v.name, withoutColumn(csv, 'duration_ms'));
    }
  });

  it.each(variants.slice(1))('$name gives the same CSV as 1 worker, byte for byte (without duration_ms)', (v) => {
    const reference = results.get('1 worker')!;
    expect(reference.split('\n').length).toBe(402);
    expect(results.get(v.name)).toBe(reference);
  });
});

describe('the formula guard (escape_formulas)', () => {
  it.each([
    { cell: '=1+2', written: "'=1+2" },
    { cell: '-x', written: "'-x" },
    { cell: '+a', written: "'+a" },
    { cell: '@SUM(A1)', written: "'@SUM(A1)" },
    { cell: 'plain text', written: 'plain text' },
    { cell: -1.5, written: '-1.5' },
    { cell: -1e-7, written: '-1e-7' },
    { cell: 0.1, written: '0.1' },
    { cell: null, written: '' },
    { cell: NaN, written: '' },
  ])('$cell is written as $written', ({ cell, written }) => {
    expect(csvLine(['first', cell, 'last'])).toBe(`first,${written},last\n`);
  });

  it('text cells are still quoted where CSV needs it, and parse back', () => {
    const line = csvLine(['a,b', 'say "hi"', '=cmd|x', -2.5]);
    expect(parse(line, { columns: false })).toEqual([['a,b', 'say "hi"', "'=cmd|x", '-2.5']]);
  });
});
