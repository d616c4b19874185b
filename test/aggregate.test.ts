/**
 * Aggregates over seeds: the summary rows, their CSV to the last digit against hand
 * computations, streaming over batches cut anywhere, and a real sweep checked against
 * a grouping of its own CSV done here independently (by the rows' axis cells).
 */
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { Aggregator, aggregate, ranks, stats, summaryCsv } from '../src/aggregate.js';
import { batchOf, sliceBatch, type RunRecord } from '../src/results.js';
import { runBatch, runBytes } from '../src/batch.js';
import { columnsOf, headerLine } from '../src/csv.js';
import { createSharedMemory } from '../src/kernels/index.js';
import { request } from '../src/protocol.js';
import { plan, runPlan } from './sweep-fixture.js';

const ok = (runId: number, finalLoss: number, metrics: number[] = []): RunRecord => ({
  runId,
  status: 'ok',
  finalLoss,
  bestLoss: finalLoss,
  durationMs: 1,
  metrics: Float64Array.from(metrics),
});
const diverged = (runId: number, metrics = 0): RunRecord => ({
  runId,
  status: 'diverged',
  divergedAt: 3,
  bestLoss: 1,
  durationMs: 1,
  metrics: new Float64Array(metrics).fill(NaN),
});
const failed = (runId: number, metrics = 0): RunRecord => ({
  runId,
  status: 'error',
  error: 'boom',
  bestLoss: NaN,
  durationMs: NaN,
  metrics: new Float64Array(metrics).fill(NaN),
});

// sgd × lr {0.1, 1} and momentum × lr {0.1, 1} × momentum {0.5, 0.9}, three seeds:
// six configurations, runs 0–5 sgd, 6–17 momentum.
const bowl = plan({
  name: 'agg',
  problem: { name: 'anisotropic-bowl' },
  optimizers: ['sgd', 'momentum'],
  lr: [0.1, 1],
  momentum: [0.5, 0.9],
  seeds: [0, 1, 2],
  steps: 5,
});
const bowlRecords: RunRecord[] = [
  ...[ok(0, 1), ok(1, 2), ok(2, 4)], // sgd lr 0.1
  ...[ok(3, 0.5), diverged(4, 3), failed(5, 3)], // sgd lr 1
  ...[ok(6, 0.1), ok(7, 0.2), ok(8, 0.3)], // momentum lr 0.1 α 0.5
  ...[diverged(9, 3), diverged(10, 3), diverged(11, 3)], // momentum lr 0.1 α 0.9
  ...[ok(12, 4), ok(13, 2), ok(14, 1)], // momentum lr 1 α 0.5: the same mean as sgd lr 0.1
  ...[failed(15, 3), failed(16, 3), failed(17, 3)], // momentum lr 1 α 0.9
].map((r) => (r.status === 'ok' ? { ...r, metrics: Float64Array.of(0, 0, 0) } : r));

// By hand (IEEE doubles, the sum taken in run order, as NumPy's mean and std(ddof=1)):
// [1, 2, 4]: mean 7/3 → 2.3333333333333335; deviations −1.3333333333333335,
//   −0.3333333333333335, 1.6666666666666665; their squares sum to 4.666666666666666,
//   / 2 → 2.333333333333333, √ → 1.5275252316519465.
// [0.1, 0.2, 0.3]: 0.1 + 0.2 = 0.30000000000000004, + 0.3 = 0.6000000000000001,
//   / 3 → 0.20000000000000004; deviations −0.10000000000000003, −0.00000000000000003,
//   0.09999999999999995 → std 0.09999999999999999.
// Ranks by mean, lower first: 0.2… → 1, 0.5 → 2, the two 7/3 → 3 and 3, then the two
// configurations without an ok run → 5 and 5.
const BOWL_SUMMARY = [
  'optimizer,lr,momentum,seeds,ok,diverged,error,final_loss_mean,final_loss_std,final_loss_min,final_loss_max,rank',
  'sgd,0.1,,3,3,0,0,2.3333333333333335,1.5275252316519465,1,4,3',
  'sgd,1,,3,1,1,1,0.5,,0.5,0.5,2',
  'momentum,0.1,0.5,3,3,0,0,0.20000000000000004,0.09999999999999999,0.1,0.3,1',
  'momentum,0.1,0.9,3,0,3,0,,,,,5',
  'momentum,1,0.5,3,3,0,0,2.3333333333333335,1.5275252316519465,1,4,3',
  'momentum,1,0.9,3,0,0,3,,,,,5',
  '',
].join('\n');

describe('stats and ranks', () => {
  it('give the hand-computed mean, sample std, min and max', () => {
    expect(stats([1, 2, 4])).toEqual({ mean: 2.3333333333333335, std: 1.5275252316519465, min: 1, max: 4, n: 3 });
    expect(stats([0.1, 0.2, 0.3]).mean).toBe(0.20000000000000004);
    expect(stats([0.9, 0.95])).toEqual({ mean: 0.925, std: 0.03535533905932733, min: 0.9, max: 0.95, n: 2 });
    expect(stats([5]).std).toBeNaN();
    expect(stats([]).mean).toBeNaN();
  });

  it('rank 1 best, ties sharing the lower rank, no value last', () => {
    expect(ranks([3, 1, NaN, 2, 1], false)).toEqual([4, 1, 5, 3, 1]);
    expect(ranks([0.9, 0.95, 0.9, NaN, NaN], true)).toEqual([2, 1, 2, 4, 4]);
  });
});

describe('the summary of a bowl grid with three seeds', () => {
  it('is the hand-computed CSV, one row per configuration in run order', () => {
    expect(summaryCsv(bowl, aggregate(bowl, bowlRecords))).toBe(BOWL_SUMMARY);
  });

  it('knows each configuration’s best ok run', () => {
    const s = aggregate(bowl, bowlRecords);
    expect(s.rows.map((r) => r.best)).toEqual([0, 3, 6, -1, 14, -1]);
    expect(s.rows.map((r) => r.group)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('streams: batches cut anywhere, or a sweep resumed half-way, give the same rows', () => {
    const whole = batchOf(bowlRecords, 3);
    for (const cuts of [[1], [4, 5, 11], [2, 3, 6, 9, 12, 17]]) {
      const a = new Aggregator(bowl);
      let from = 0;
      for (const to of [...cuts, 18]) {
        a.accept(sliceBatch(whole, from, to));
        from = to;
      }
      expect(summaryCsv(bowl, a.summary())).toBe(BOWL_SUMMARY);
    }
  });

  it('takes a partial sweep: groups cut short count the runs seen', () => {
    const s = aggregate(bowl, bowlRecords.slice(0, 7));
    expect(s.rows.map((r) => [r.seeds, r.ok, r.rank])).toEqual([
      [3, 3, 3],
      [3, 1, 2],
      [1, 1, 1],
    ]);
  });

  it('gives the same rows, to the last digit, for runs in any order (early stopping writes rung by rung)', () => {
    let seed = 7;
    for (let t = 0; t < 20; t++) {
      const shuffled = [...bowlRecords];
      for (let i = shuffled.length - 1; i > 0; i--) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        const j = seed % (i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
      }
      expect(summaryCsv(bowl, aggregate(bowl, shuffled))).toBe(BOWL_SUMMARY);
    }
  });

  it('refuses a run twice, or one not in the plan', () => {
    const a = new Aggregator(bowl);
    a.add(bowlRecords[3]);
    expect(() => a.add(bowlRecords[3])).toThrow(/run 3 given twice/);
    // Group 0 closes once its three seeds are in: a repeat after that is caught too.
    for (const r of bowlRecords.slice(0, 3)) a.add(r);
    expect(() => a.add(bowlRecords[1])).toThrow(/run 1 given twice/);
    expect(() => a.add({ ...bowlRecords[0], runId: 18 })).toThrow(/run 18 is not in 0 … 17/);
  });
});

describe('a problem that ranks by held-out accuracy', () => {
  // mnist-mlp with validation: metrics train_loss, train_acc, val_acc; higher is better.
  const mnist = plan({
    name: 'agg-mnist',
    problem: { name: 'mnist-mlp', hidden: [4], train_samples: 100, validation: 0.2 },
    optimizers: ['sgd'],
    lr: [0.01, 0.1],
    seeds: [0, 1],
    steps: 3,
  });
  const records = [
    ok(0, 2, [1.9, 0.5, 0.9]),
    ok(1, 1, [0.9, 0.6, 0.95]),
    ok(2, 0.5, [0.4, 0.8, 0.91]),
    ok(3, 0.25, [0.2, 0.9, 0.93]),
  ];

  it('adds val_acc statistics and ranks by its mean, higher first', () => {
    // val_acc: lr 0.01 (0.9 + 0.95) / 2 = 0.925, std 0.03535533905932733;
    // lr 0.1 (0.91 + 0.93) / 2 = 0.92, deviations ∓0.010000000000000009 (0.93 − 0.92
    // in doubles), std √(2 · 0.010000000000000009²) = 0.014142135623730963: lr 0.01
    // ranks first by mean, though lr 0.1's final losses are lower.
    expect(summaryCsv(mnist, aggregate(mnist, records))).toBe(
      [
        'optimizer,lr,seeds,ok,diverged,error,final_loss_mean,final_loss_std,final_loss_min,final_loss_max,val_acc_mean,val_acc_std,val_acc_min,val_acc_max,rank',
        'sgd,0.01,2,2,0,0,1.5,0.7071067811865476,1,2,0.925,0.03535533905932733,0.9,0.95,1',
        'sgd,0.1,2,2,0,0,0.375,0.1767766952966369,0.25,0.5,0.92,0.014142135623730963,0.91,0.93,2',
        '',
      ].join('\n'),
    );
    expect(aggregate(mnist, records).rows.map((r) => r.best)).toEqual([1, 3]);
  });
});

describe('a sweep over a problem option', () => {
  it('has a column per problem axis, its values as the results CSV writes them', async () => {
    const p = plan({
      name: 'starts',
      problem: {
        name: 'anisotropic-bowl',
        start: [
          [-7, 2],
          [-3, 1],
        ],
      },
      optimizers: ['sgd'],
      lr: [0.1, 0.5],
      seeds: [0, 1],
      steps: 20,
    });
    const { records } = await runPlan(p, { curveEvery: 0 });
    const text = summaryCsv(p, aggregate(p, records));
    expect(text.split('\n')[0]).toBe(
      'optimizer,lr,start,seeds,ok,diverged,error,final_loss_mean,final_loss_std,final_loss_min,final_loss_max,rank',
    );
    expect(text.split('\n')[1].startsWith('sgd,0.1,"[-7,2]",2,2,0,0,')).toBe(true);
    const rows: string[][] = parse(text, { from_line: 2 });
    expect(rows.map((r) => r.slice(0, 7))).toEqual([
      ['sgd', '0.1', '[-7,2]', '2', '2', '0', '0'],
      ['sgd', '0.1', '[-3,1]', '2', '2', '0', '0'],
      ['sgd', '0.5', '[-7,2]', '2', '2', '0', '0'],
      ['sgd', '0.5', '[-3,1]', '2', '2', '0', '0'],
    ]);
    // The bowl ignores the seed: both seeds' losses are equal, their deviation 0; the
    // starts differ, and so do the losses.
    for (const r of rows) expect(r[8]).toBe('0');
    expect(new Set(rows.map((r) => r[7])).size).toBe(4);
  });
});

describe('a real sweep', () => {
  it('matches a grouping of its CSV by axis cells, seeds of different starting points', async () => {
    // The quadratic starts from the seed, so seeds differ; sgd at lr 0.5 overshoots
    // the stiffest curvature (|1 − 0.5 · 10| = 4 a step) and overflows within 300.
    const p = plan({
      name: 'agg-real',
      problem: { name: 'quadratic', dim: 3, condition: 10 },
      optimizers: ['sgd', 'momentum', 'adam'],
      lr: [0.05, 0.5],
      momentum: [0.5, 0.9],
      seeds: [0, 1, 2, 3],
      steps: 300,
    });
    // The engine's batch loop, as a worker runs it, with the CSV rows it encodes.
    const batch = runBatch(request(p, 0, p.total, 0, true), undefined, createSharedMemory(runBytes(p.problem)));
    const csv = headerLine(columnsOf(p)) + new TextDecoder().decode(batch.rows!.bytes);
    const rows: Record<string, string>[] = parse(csv, { columns: true });
    const a = new Aggregator(p);
    a.accept(batch);
    const groups = new Map<string, Record<string, string>[]>();
    for (const r of rows) {
      const key = [r.optimizer, r.lr, r.momentum].join('|');
      groups.set(key, [...(groups.get(key) ?? []), r]);
    }
    const summary: Record<string, string>[] = parse(summaryCsv(p, a.summary()), { columns: true });
    expect(summary.map((s) => [s.optimizer, s.lr, s.momentum].join('|'))).toEqual([...groups.keys()]);
    expect(summary.some((s) => s.diverged === '4')).toBe(true);
    for (const s of summary) {
      const g = groups.get([s.optimizer, s.lr, s.momentum].join('|'))!;
      const losses = g.filter((r) => r.status === 'ok').map((r) => Number(r.final_loss));
      expect(Number(s.seeds)).toBe(4);
      expect(Number(s.ok)).toBe(losses.length);
      expect(Number(s.diverged)).toBe(g.filter((r) => r.status === 'diverged').length);
      if (losses.length === 0) {
        expect(s.final_loss_mean).toBe('');
        continue;
      }
      const mean = losses.reduce((a, b) => a + b, 0) / losses.length;
      const std = Math.sqrt(losses.reduce((a, x) => a + (x - mean) ** 2, 0) / (losses.length - 1));
      // A blank for what is not finite: momentum at lr 0.5 ends near 1e300, whose
      // squared deviations overflow.
      const cell = (x: number): string => (Number.isFinite(x) ? String(x) : '');
      expect(s.final_loss_mean).toBe(cell(mean));
      expect(s.final_loss_std).toBe(cell(std));
      expect(s.final_loss_min).toBe(String(Math.min(...losses)));
      expect(s.final_loss_max).toBe(String(Math.max(...losses)));
      if (s.final_loss_std !== '') expect(Number(s.final_loss_std)).toBeGreaterThan(0);
    }
    expect(summary.filter((s) => s.final_loss_std !== '').length).toBeGreaterThan(summary.length / 2);
    const ranked = summary.filter((s) => s.final_loss_mean !== '');
    const best = ranked.reduce((a, b) => (Number(b.final_loss_mean) < Number(a.final_loss_mean) ? b : a));
    expect(best.rank).toBe('1');
  });
});
