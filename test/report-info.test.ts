/**
 * The report's data step, without any drawing: what each figure is given, and when a
 * figure applies. Also the book's smoothing (against NumPy's output for the book's
 * smooth_curve) and the loss contour (its points lie on their level).
 */
import { describe, expect, it } from 'vitest';
import { contour, lossGrid } from '../src/report/contour.js';
import { BEST_N, curveRuns, reportInfo, short } from '../src/report/info.js';
import { runBatch, runBytes } from '../src/batch.js';
import { createSharedMemory } from '../src/kernels/index.js';
import { request } from '../src/protocol.js';
import { runWithCurves } from '../src/report/rerun.js';
import { records } from '../src/results.js';
import { kaiser, smoothCurve } from '../src/report/smooth.js';
import { aggregate } from '../src/aggregate.js';
import { BOOK_BOWL, plan, runPlan } from './sweep-fixture.js';

describe('the book’s smooth_curve', () => {
  it('gives NumPy’s values for the book’s code', () => {
    // np.kaiser(11, 2) and smooth_curve(x) as the book's common/util.py computes them
    // (NumPy 1.24.2).
    const window = [
      0.4386762798370488, 0.6113943543616491, 0.7676749968275236, 0.8921614338542881, 0.9723298008693713, 1.0,
      0.9723298008693713, 0.8921614338542881, 0.7676749968275236, 0.6113943543616491, 0.4386762798370488,
    ];
    kaiser(11, 2).forEach((w, i) => expect(w).toBeCloseTo(window[i], 15));
    const x = [2.3, 2.1, 1.7, 1.5, 1.2, 1.0, 0.9, 0.8, 0.85, 0.7, 0.6, 0.65, 0.5, 0.45];
    const numpy = [
      1.6814994572119621, 1.659048061500277, 1.590216669180169, 1.4864874226009945, 1.3546444025649038,
      1.1997766802169643, 1.0497464204476636, 0.9181273690849779, 0.8139411950460191, 0.7279113016440387,
      0.6647224786081334, 0.6238631368439296, 0.5928383261383695, 0.577926807517579,
    ];
    const y = smoothCurve(x);
    expect(y.length).toBe(x.length);
    y.forEach((v, i) => expect(v).toBeCloseTo(numpy[i], 14));
  });

  it('leaves a constant constant, and too short a series as it is', () => {
    for (const v of smoothCurve(new Array(30).fill(0.25))) expect(v).toBeCloseTo(0.25, 15);
    expect(smoothCurve([3, 1, 2])).toEqual([3, 1, 2]);
  });
});

describe('the loss contour', () => {
  it('puts every point of a level line on that level of the loss', () => {
    const problem = { name: 'anisotropic-bowl', options: { start: [-7, 2] } };
    const domain = { x: [-8, 2] as const, y: [-3, 3] as const };
    const c = contour(lossGrid(problem, 0, domain), domain);
    expect(c.levels.length).toBeGreaterThan(6);
    expect(c.points.length).toBeGreaterThan(500);
    for (const p of c.points) {
      const f = (p.x * p.x) / 20 + p.y * p.y;
      // Linear interpolation between grid points ~0.1 apart: within a few percent.
      expect(Math.abs(f - p.level) / p.level).toBeLessThan(0.05);
      expect(p.x).toBeGreaterThanOrEqual(-8);
      expect(p.x).toBeLessThanOrEqual(2);
    }
    // The lowest grid point is next to the optimum (0, 0).
    expect(Math.abs(c.lowest.x)).toBeLessThan(0.11);
    expect(Math.abs(c.lowest.y)).toBeLessThan(0.07);
  });
});

describe('what each figure is given', () => {
  const bookBowl = plan(BOOK_BOWL);

  it('the book’s bowl: paths of steps + 1 points from the start, no lr figure, no heatmap', async () => {
    const f = await runPlan(bookBowl);
    const info = reportInfo({ plan: bookBowl, records: f.records, curves: f.curves, complete: true });
    const t = info.trajectories!;
    expect(t.panels.map((p) => [p.title, p.points.length])).toEqual([
      ['SGD lr=0.95', 31],
      ['Momentum lr=0.1 α=0.9', 31],
      ['AdaGrad lr=1.5 ε=1e-7', 31],
      ['Adam lr=0.3 β₁=0.9 β₂=0.999 ε=1e-7', 31],
    ]);
    for (const p of t.panels) expect(p.points[0]).toEqual({ step: 0, x: -7, y: 2 });
    expect(t.optimum).toEqual({ x: 0, y: 0, known: true });
    expect(t.domain.x[0]).toBeLessThan(-7);
    expect(t.domain.x[1]).toBeGreaterThan(0);
    expect(info.lr).toBeUndefined();
    expect(info.heatmaps).toEqual([]);
    expect(info.bestN).toBeUndefined();
    expect(info.smoothed).toBeUndefined();
    // One seed: the band is the line itself; losses span decades, so a log axis.
    expect(info.curves!.points.every((p) => p.min === p.mean && p.max === p.mean)).toBe(true);
    expect(info.curves!.log).toBe(true);
    // The paths' last points are the final parameters in the records' metrics (x, y).
    for (const p of t.panels) {
      const r = f.records[p.runId];
      expect([p.points.at(-1)!.x, p.points.at(-1)!.y]).toEqual([r.metrics[0], r.metrics[1]]);
    }
  });

  it('a grid with diverging runs: lr points and heatmap cells say no-ok, never a value', async () => {
    const p = plan({
      name: 'g',
      problem: { name: 'anisotropic-bowl' },
      optimizers: ['sgd', 'momentum'],
      lr: [0.1, 3],
      momentum: [0.5, 0.9, 0.99],
      steps: 300,
    });
    const f = await runPlan(p, { curveEvery: 0 });
    const info = reportInfo({ plan: p, records: f.records, curves: f.curves, complete: true });
    expect(info.heatmaps.map((h) => [h.optimizer, h.axes, h.cells.length])).toEqual([
      ['momentum', ['lr', 'momentum'], 6],
    ]);
    const cells = info.heatmaps[0].cells;
    for (const c of cells) {
      const r = f.records.find((x) => x.runId === 2 + [0.1, 3].indexOf(c.x) * 3 + [0.5, 0.9, 0.99].indexOf(c.y))!;
      expect(c.mark === 'no-ok', `${c.x} ${c.y}`).toBe(r.status !== 'ok');
      if (c.mark === 'no-ok') expect(c.value).toBeNaN();
    }
    expect(cells.filter((c) => c.mark === 'no-ok').length).toBeGreaterThan(0);
    const lr = info.lr!;
    expect(lr.points.length).toBe(2 + 6);
    for (const q of lr.points.filter((q) => q.mark !== 'value')) expect(q.value).toBe(lr.edge);
    const values = lr.points.filter((q) => q.mark === 'value').map((q) => q.value);
    expect(lr.edge).toBeGreaterThan(Math.max(...values));
    // No curves kept: the curve figures say which are missing.
    expect(info.curves!.missing).toEqual(['SGD', 'Momentum']);
    expect(info.trajectories!.panels.every((q) => q.missing === `no curve recorded for run ${q.runId}`)).toBe(true);
  });

  it('a random search: the Best-N are the top trials, and curveRuns names what the figures draw', async () => {
    const p = plan({
      name: 'rs',
      problem: { name: 'rosenbrock', dim: 2 },
      optimizers: ['sgd', 'adam'],
      lr: { distribution: 'log-uniform', min: 1e-5, max: 0.5 },
      trials: 15,
      steps: 100,
    });
    const f = await runPlan(p, { curveEvery: 10 });
    const info = reportInfo({ plan: p, records: f.records, curves: f.curves, complete: true });
    const b = info.bestN!;
    expect(b.panels.length).toBe(BEST_N);
    const summary = aggregate(p, f.records);
    const ranked = summary.rows.filter((r) => r.ok > 0).sort((x, y) => x.rank - y.rank);
    expect(b.panels.map((q) => q.runId)).toEqual(ranked.slice(0, BEST_N).map((r) => r.best));
    expect(b.accuracy).toBe(false);
    expect(b.panels[0].points.length).toBe(11);
    expect(info.sampled!.axes).toEqual([{ axis: 'lr', log: true }]);
    expect(info.sampled!.points.length).toBe(30);
    const runs = curveRuns(p, summary);
    for (const q of b.panels) expect(runs).toContain(q.runId);
    for (const q of info.trajectories!.panels) expect(runs).toContain(q.runId);
    expect(runs.length).toBeLessThanOrEqual(BEST_N + 2);
  });

  it('formats values briefly, with an exponent only where digits would run long', () => {
    expect([0.95, 1.5e-7, 5326000000000000, 0.00012346, 123.456, 0].map(short)).toEqual([
      '0.95',
      '1.5e-7',
      '5.326e+15',
      '0.0001235',
      '123.5',
      '0',
    ]);
  });
});

describe('curves re-run for what the figures draw', () => {
  it('are the curves and records the engine’s batch loop gives', async () => {
    const p = plan({
      name: 're',
      problem: { name: 'rosenbrock', dim: 2 },
      optimizers: ['momentum', 'adam'],
      lr: [0.001, 0.01, 3],
      momentum: [0.5, 0.9],
      steps: 50,
      seeds: [0, 1],
    });
    const memory = createSharedMemory(runBytes(p.problem));
    const batch = runBatch(request(p, 0, p.total, 5, false), undefined, memory);
    const engine = [...records(batch)];
    expect(engine.some((r) => r.status === 'diverged')).toBe(true);
    const ids = curveRuns(p, aggregate(p, engine));
    const again = await runWithCurves(p, ids, { every: 5 });
    expect([...again.curves.keys()]).toEqual(ids);
    ids.forEach((id, k) => {
      const { durationMs: _a, ...mine } = again.records[k];
      const { durationMs: _b, curve, ...theirs } = engine[id];
      expect(mine).toEqual(theirs);
      expect(again.curves.get(id)).toEqual(curve);
    });
  });

  it('with accuracy, hold the training and held-out accuracy at each checkpoint', async () => {
    const p = plan({
      name: 'acc',
      problem: { name: 'mnist-mlp', hidden: [10], batch_size: 20, train_samples: 100, validation: 0.2 },
      optimizers: [{ name: 'sgd', lr: 0.1 }],
      steps: 20,
    });
    const r = await runWithCurves(p, [0], { every: 10, accuracy: true });
    expect(r.curveColumns).toEqual(['loss', 'train_acc', 'val_acc']);
    const c = r.curves.get(0)!;
    expect([...c.step]).toEqual([0, 10, 20]);
    // The last checkpoint is at the final parameters: its accuracies are the record's.
    const [, trainAcc, valAcc] = r.records[0].metrics;
    expect([c.values[7], c.values[8]]).toEqual([trainAcc, valAcc]);
    for (let k = 0; k < 3; k++) {
      expect(c.values[k * 3 + 1]).toBeGreaterThanOrEqual(0);
      expect(c.values[k * 3 + 2]).toBeLessThanOrEqual(1);
    }
  });
});
