/**
 * Problem options as axes, end to end through the thread pool: each axis has its
 * CSV column (named as the option, after the optimizer axes), its cells hold the
 * values as the config gives them, every run uses its own options (its row equals
 * the row of a config that sets those options plainly), the network size may change
 * from run to run, and 1 and 2 workers write the same rows. The expansion itself
 * (counts, order, refusals) is test/grid.test.ts's.
 */
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { Plan } from '../src/grid.js';
import { createExecutor } from '../src/executors/index.js';
import { columnsOf } from '../src/csv.js';
import { dryRun } from '../src/report.js';
import { collect } from './helpers.js';

type Row = Record<string, string>;

const planOf = (config: object): Plan =>
  parseConfig(JSON.stringify({ name: 'axes-test', ...config }), 'axes-test.json');

/** The sweep's CSV text, header first, and its rows, on a pool of `workers` threads. */
async function sweep(plan: Plan, workers = 1): Promise<{ csv: string; rows: Row[] }> {
  const executor = createExecutor('piscina', { workers });
  try {
    const { csv } = await collect(plan, executor);
    return { csv, rows: parse(csv, { columns: true }) };
  } finally {
    await executor.close();
  }
}

/** A row's result cells: what a run computes (not its id, settings or timing). */
function results(row: Row, metrics: readonly string[]): string[] {
  return [row.status, row.final_loss, row.best_loss, ...metrics.map((m) => row[m])];
}

describe('a problem axis on the bowl: start [[-7, 2], [3, 1]] × lr', () => {
  const config = {
    problem: {
      name: 'anisotropic-bowl',
      start: [
        [-7, 2],
        [3, 1],
      ],
    },
    optimizers: ['sgd', 'momentum'],
    lr: [0.1, 0.5],
    steps: 30,
  };

  it('has its column after the optimizer axes, cells in JSON, and each row equals the plain config', async () => {
    const plan = planOf(config);
    expect(plan.total).toBe(8);
    expect(dryRun(plan)).toBe('optimizer  runs\nsgd        4\nmomentum   4\ntotal      8\nupdates: 240\n');
    const { csv, rows } = await sweep(plan);
    expect(csv.split('\n')[0]).toBe(
      'run_id,optimizer,lr,momentum,start,seed,steps,status,final_loss,best_loss,diverged_at,x,y,distance,duration_ms,error',
    );
    expect(rows.map((r) => [r.optimizer, r.lr, r.start])).toEqual([
      ['sgd', '0.1', '[-7,2]'],
      ['sgd', '0.1', '[3,1]'],
      ['sgd', '0.5', '[-7,2]'],
      ['sgd', '0.5', '[3,1]'],
      ['momentum', '0.1', '[-7,2]'],
      ['momentum', '0.1', '[3,1]'],
      ['momentum', '0.5', '[-7,2]'],
      ['momentum', '0.5', '[3,1]'],
    ]);
    expect(csv).toContain(',"[-7,2]",'); // quoted: the cell holds a comma
    const metrics = columnsOf(plan).metrics;
    for (const start of [
      [-7, 2],
      [3, 1],
    ]) {
      const alone = await sweep(planOf({ ...config, problem: { name: 'anisotropic-bowl', start } }));
      const swept = rows.filter((r) => r.start === JSON.stringify(start));
      expect(swept.map((r) => results(r, metrics))).toEqual(alone.rows.map((r) => results(r, metrics)));
      // The runs did start apart: their final points differ.
      expect(swept[0].x).not.toBe(rows.find((r) => r.start !== JSON.stringify(start))!.x);
    }
  });
});

describe('problem axes on mnist-mlp: hidden × init × batch_norm, the net changing size from run to run', () => {
  const base = { name: 'mnist-mlp', train_samples: 300, batch_size: 32 };
  const config = {
    problem: { ...base, hidden: [[20], [30, 10]], init: [0.01, 'he'], batch_norm: [false, true] },
    optimizers: ['adam'],
    steps: 20,
    seeds: [0, 1],
  };

  it('writes the columns and cells, equals the plain configs run by run, and 1 and 2 workers agree', async () => {
    const plan = planOf(config);
    expect(plan.total).toBe(16);
    const { csv, rows } = await sweep(plan);
    expect(csv.split('\n')[0]).toBe(
      'run_id,optimizer,lr,beta1,beta2,eps,hidden,init,batch_norm,seed,steps,status,final_loss,best_loss,diverged_at,train_loss,train_acc,test_acc,duration_ms,error',
    );
    expect(rows.slice(0, 8).map((r) => [r.hidden, r.init, r.batch_norm, r.seed])).toEqual([
      ['[20]', '0.01', 'false', '0'],
      ['[20]', '0.01', 'false', '1'],
      ['[20]', '0.01', 'true', '0'],
      ['[20]', '0.01', 'true', '1'],
      ['[20]', 'he', 'false', '0'],
      ['[20]', 'he', 'false', '1'],
      ['[20]', 'he', 'true', '0'],
      ['[20]', 'he', 'true', '1'],
    ]);
    expect(rows[8].hidden).toBe('[30,10]');
    const metrics = columnsOf(plan).metrics;
    // Variants (each with its two seeds) against configs that set their options
    // plainly: four of the eight, which take each value of each axis (binary 000,
    // 011, 101, 110 in hidden, init, batch_norm).
    for (const v of [0, 3, 5, 6].map((variant) => 2 * variant)) {
      const row = rows[v];
      expect([row.status, rows[v + 1].status]).toEqual(['ok', 'ok']);
      const problem = {
        ...base,
        hidden: JSON.parse(row.hidden) as number[],
        init: row.init === 'he' ? 'he' : Number(row.init),
        batch_norm: row.batch_norm === 'true',
      };
      const alone = await sweep(planOf({ ...config, problem }));
      expect(
        rows.slice(v, v + 2).map((r) => results(r, metrics)),
        JSON.stringify(problem),
      ).toEqual(alone.rows.map((r) => results(r, metrics)));
    }
    // Batch norm changed the results (the axis is not ignored).
    expect(rows[2].final_loss).not.toBe(rows[0].final_loss);
    const withoutDuration = (r: Row[]) => r.map(({ duration_ms: _, ...rest }) => rest);
    expect(withoutDuration((await sweep(plan, 2)).rows)).toEqual(withoutDuration(rows));
  });
});

describe('precision as an axis: the same sweep in float64 and float32, runs of both precisions on one worker', () => {
  const problem = { name: 'mnist-mlp', train_samples: 500, batch_size: 32, hidden: [20] };
  const config = {
    problem: { ...problem, precision: ['float64', 'float32'] },
    optimizers: ['sgd', 'momentum', 'adam'],
    steps: 40,
    seeds: [0],
  };

  it('gives each run the row of its plain config, 1 and 2 workers agree, and float32 ends near float64', async () => {
    const plan = planOf(config);
    const { rows } = await sweep(plan);
    const metrics = columnsOf(plan).metrics;
    expect(rows.map((r) => [r.optimizer, r.precision])).toEqual(
      ['sgd', 'momentum', 'adam'].flatMap((o) => [
        [o, 'float64'],
        [o, 'float32'],
      ]),
    );
    for (const precision of ['float64', 'float32']) {
      const alone = await sweep(planOf({ ...config, problem: { ...problem, precision } }));
      expect(
        rows.filter((r) => r.precision === precision).map((r) => results(r, metrics)),
        precision,
      ).toEqual(alone.rows.map((r) => results(r, metrics)));
    }
    for (let k = 0; k < rows.length; k += 2) {
      const [wide, narrow] = [rows[k], rows[k + 1]];
      expect([wide.status, narrow.status]).toEqual(['ok', 'ok']);
      // Different arithmetic, so different bits; the same training to a few digits.
      expect(narrow.final_loss).not.toBe(wide.final_loss);
      expect(Math.abs(Number(narrow.final_loss) / Number(wide.final_loss) - 1), wide.optimizer).toBeLessThan(1e-3);
    }
    const withoutDuration = (r: Row[]) => r.map(({ duration_ms: _, ...rest }) => rest);
    expect(withoutDuration((await sweep(plan, 2)).rows)).toEqual(withoutDuration(rows));
  });
});
