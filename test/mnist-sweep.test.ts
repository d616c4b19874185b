/**
 * A short real MNIST sweep through the thread pool (the kernels run in the workers,
 * on each lane's memory, over the coordinator's shared data): the same CSV with 1
 * and 2 workers, test accuracy clearly above chance, and sgd worst on every seed.
 * Then the same with batch norm and dropout, whose masks and running averages must
 * not depend on which worker ran a run, or after which other run.
 */
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { columnsOf } from '../src/csv.js';
import { createExecutor, type ExecutorName } from '../src/executors/index.js';
import { collect, type Collected } from './helpers.js';

type Row = Record<string, string>;

const withoutDuration = (rows: Row[]) => rows.map(({ duration_ms: _, ...rest }) => rest);

const OPTIMIZERS = ['sgd', 'momentum', 'adagrad', 'adam'] as const;
const SEEDS = [0, 1];

const plan = parseConfig(
  JSON.stringify({
    name: 'mnist-sweep-test',
    problem: { name: 'mnist-mlp', hidden: [50, 30] },
    optimizers: OPTIMIZERS,
    steps: 300,
    seeds: SEEDS,
  }),
  'mnist-sweep-test.json',
);
type SweepSummary = { optimizers: Collected['summary'] };

/** The sweep's rows, parsed. */
async function sweep(
  workers: number,
  name: ExecutorName = 'piscina',
  which = plan,
): Promise<{ rows: Row[]; summary: SweepSummary }> {
  const executor = createExecutor(name, { workers });
  try {
    const { csv, outcome, summary } = await collect(which, executor);
    expect(outcome.runs).toBe(which.total);
    return { rows: parse(csv, { columns: true }), summary: { optimizers: summary } };
  } finally {
    await executor.close();
  }
}

describe('a short MNIST sweep through the pool', () => {
  let one: Row[];
  let two: Row[];
  let child: Row[];
  let summary: SweepSummary;

  beforeAll(async () => {
    ({ rows: one, summary } = await sweep(1));
    ({ rows: two } = await sweep(2));
    // Child processes that load the digits themselves, every message as JSON text.
    ({ rows: child } = await sweep(2, 'child'));
  });

  it('writes the same rows with 1 and 2 workers, and through child processes speaking JSON, duration_ms aside', () => {
    expect(one).toHaveLength(plan.total);
    expect(withoutDuration(two)).toEqual(withoutDuration(one));
    expect(withoutDuration(child)).toEqual(withoutDuration(one));
    expect(one.map((row) => Number(row.run_id))).toEqual(one.map((_, i) => i));
  });

  it("summarises each optimizer by its best test accuracy, the book's ranking", () => {
    expect(columnsOf(plan).rank).toEqual({ column: 'test_acc', higher: true });
    for (const s of summary.optimizers) {
      const best = Math.max(...one.filter((row) => row.optimizer === s.optimizer).map((row) => Number(row.test_acc)));
      expect(s.best?.value, s.optimizer).toBe(best);
      expect(Number(one[s.best!.spec.id].test_acc)).toBe(best);
    }
  });

  it('trains: every run ok, test accuracy clearly above chance, sgd worst on every seed', () => {
    for (const row of one) {
      expect(row.status).toBe('ok');
      expect(Number(row.test_acc)).toBeGreaterThan(0.5);
    }
    for (const seed of SEEDS) {
      const ofSeed = one.filter((row) => Number(row.seed) === seed);
      const loss = (optimizer: string) => Number(ofSeed.find((row) => row.optimizer === optimizer)!.train_loss);
      for (const optimizer of OPTIMIZERS.slice(1))
        expect(loss(optimizer), `seed ${seed}: ${optimizer}`).toBeLessThan(loss('sgd'));
    }
  });
});

describe('a short MNIST sweep with batch norm and dropout through the pool', () => {
  const extended = parseConfig(
    JSON.stringify({
      name: 'mnist-extended-sweep-test',
      problem: { name: 'mnist-mlp', hidden: [40, 30], batch_norm: true, dropout: 0.2, train_samples: 1000 },
      optimizers: ['sgd', 'adam'],
      steps: 100,
      seeds: [0, 1, 2],
    }),
    'mnist-extended-sweep-test.json',
  );

  it('writes the same rows with 1 and 2 workers, and learns', async () => {
    const { rows: one } = await sweep(1, 'piscina', extended);
    const { rows: two } = await sweep(2, 'child', extended);
    expect(one).toHaveLength(extended.total);
    expect(withoutDuration(two)).toEqual(withoutDuration(one));
    for (const row of one) {
      expect(row.status).toBe('ok');
      expect(Number(row.test_acc)).toBeGreaterThan(0.5);
    }
  });
});
