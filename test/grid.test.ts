/**
 * The grid: how a config expands into runs (counts, values, ids, order), and random
 * search (ranges, reproducibility, one draw per trial shared by the optimizers).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { countsByOptimizer, specAt, type Plan, type RunSpec } from '../src/grid.js';
import { OPTIMIZERS, defaultHyper } from '../src/optimizers/index.js';
import { mnistMlp } from '../src/problems/mnist-mlp.js';

const CONFIGS = fileURLToPath(new URL('../configs/', import.meta.url));

function parse(config: object, file = 'test.json'): Plan {
  return parseConfig(JSON.stringify(config), file);
}

function planOf(file: string): Plan {
  return parseConfig(readFileSync(`${CONFIGS}${file}`, 'utf8'), `configs/${file}`);
}

function expand(plan: Plan): RunSpec[] {
  return Array.from({ length: plan.total }, (_, id) => specAt(plan, id));
}

function counts(plan: Plan): Record<string, number> {
  return Object.fromEntries(countsByOptimizer(plan).map(({ optimizer, runs }) => [optimizer, runs]));
}

/** What makes a run distinct. */
const combination = (s: RunSpec): string => JSON.stringify([s.optimizer, s.axes, s.problemValues, s.seed, s.trial]);

const bowl = { name: 'unit', problem: { name: 'anisotropic-bowl' }, steps: 5 };

describe('configs/grid.json', () => {
  const plan = planOf('grid.json');

  it('expands to 32 runs; the momentum axis multiplies only momentum and nesterov', () => {
    expect(counts(plan)).toEqual({ sgd: 4, momentum: 8, nesterov: 8, adagrad: 4, rmsprop: 4, adam: 4 });
    expect(plan.total).toBe(32);
    const specs = expand(plan);
    for (const s of specs) {
      const uses = (OPTIMIZERS[s.optimizer].hyper as readonly string[]).includes('momentum');
      expect('momentum' in s.axes, `${s.optimizer}`).toBe(uses);
    }
  });

  it('crosses lr × momentum with lr the slower axis (AXIS_NAMES order), for momentum runs', () => {
    const momentumRuns = expand(plan).filter((s) => s.optimizer === 'momentum');
    expect(momentumRuns.map((s) => [s.hyper.lr, s.hyper.momentum])).toEqual([
      [0.001, 0.5],
      [0.001, 0.9],
      [0.01, 0.5],
      [0.01, 0.9],
      [0.1, 0.5],
      [0.1, 0.9],
      [1, 0.5],
      [1, 0.9],
    ]);
  });

  it('runs the optimizers in config order, each as one contiguous block of ids', () => {
    const order = expand(plan).map((s) => s.optimizer);
    expect([...new Set(order)]).toEqual(['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam']);
    for (const name of new Set(order)) {
      const ids = order.flatMap((o, i) => (o === name ? [i] : []));
      expect(ids[ids.length - 1] - ids[0] + 1).toBe(ids.length);
    }
  });

  it('leaves the hyperparameters an axis does not set at the book defaults', () => {
    for (const s of expand(plan)) {
      const d = defaultHyper(s.optimizer);
      expect({ ...s.hyper, lr: d.lr, momentum: d.momentum }).toEqual(d);
      expect(s.weightDecay).toBe(0);
      expect(s.steps).toBe(30);
      expect(s.seed).toBe(0);
    }
  });
});

describe('configs/book-bowl.json', () => {
  it("gives the book's four runs", () => {
    const plan = planOf('book-bowl.json');
    expect(plan.total).toBe(4);
    const specs = expand(plan).map((s) => ({ optimizer: s.optimizer, lr: s.hyper.lr, momentum: s.hyper.momentum }));
    expect(specs).toEqual([
      { optimizer: 'sgd', lr: 0.95, momentum: 0.9 },
      { optimizer: 'momentum', lr: 0.1, momentum: 0.9 },
      { optimizer: 'adagrad', lr: 1.5, momentum: 0.9 },
      { optimizer: 'adam', lr: 0.3, momentum: 0.9 },
    ]);
    expect(specAt(plan, 1).axes).toEqual({ lr: 0.1, momentum: 0.9 });
    expect(specAt(plan, 0).axes).toEqual({ lr: 0.95 });
    expect(plan.problem).toEqual({ name: 'anisotropic-bowl', options: { start: [-7, 2] } });
    expect(plan.steps).toBe(30);
  });
});

describe('per-optimizer values', () => {
  const plan = parse({
    ...bowl,
    optimizers: ['sgd', { name: 'adam', lr: [0.001, 0.002, 0.003] }, { name: 'nesterov', momentum: 0.5 }, 'momentum'],
    lr: [0.1, 0.01],
    momentum: [0.8, 0.9],
  });

  it.each([
    { optimizer: 'sgd', runs: 2, values: [{ lr: 0.1 }, { lr: 0.01 }] },
    { optimizer: 'adam', runs: 3, values: [{ lr: 0.001 }, { lr: 0.002 }, { lr: 0.003 }] },
    {
      optimizer: 'nesterov',
      runs: 2,
      values: [
        { lr: 0.1, momentum: 0.5 },
        { lr: 0.01, momentum: 0.5 },
      ],
    },
    {
      optimizer: 'momentum',
      runs: 4,
      values: [
        { lr: 0.1, momentum: 0.8 },
        { lr: 0.1, momentum: 0.9 },
        { lr: 0.01, momentum: 0.8 },
        { lr: 0.01, momentum: 0.9 },
      ],
    },
  ] as const)('$optimizer: its own values replace the sweep-wide ones ($runs runs)', ({ optimizer, runs, values }) => {
    const specs = expand(plan).filter((s) => s.optimizer === optimizer);
    expect(specs.length).toBe(runs);
    expect(counts(plan)[optimizer]).toBe(runs);
    expect(specs.map((s) => Object.fromEntries(Object.keys(values[0]).map((k) => [k, s.hyper[k as 'lr']])))).toEqual(
      values,
    );
  });

  it('totals the per-optimizer counts', () => {
    expect(plan.total).toBe(2 + 3 + 2 + 4);
  });

  it('per-optimizer weight decay applies to that optimizer only', () => {
    const p = parse({ ...bowl, optimizers: ['sgd', { name: 'adam', weight_decay: [0, 0.1] }] });
    expect(counts(p)).toEqual({ sgd: 1, adam: 2 });
    expect(expand(p).map((s) => [s.optimizer, s.weightDecay, s.axes.weight_decay])).toEqual([
      ['sgd', 0, undefined],
      ['adam', 0, 0],
      ['adam', 0.1, 0.1],
    ]);
    expect(p.columns).toContain('weight_decay');
  });
});

describe('seeds', () => {
  it.each([
    { seeds: 7, expected: [7] },
    { seeds: [3], expected: [3] },
    { seeds: [1, 2, 3], expected: [1, 2, 3] },
  ])('seeds $seeds multiply every optimizer', ({ seeds, expected }) => {
    const one = planOf('grid.json');
    const text = readFileSync(`${CONFIGS}grid.json`, 'utf8');
    const plan = parseConfig(JSON.stringify({ ...JSON.parse(text), seeds }), 'grid-seeds.json');
    for (const [name, runs] of Object.entries(counts(one))) expect(counts(plan)[name]).toBe(runs * expected.length);
    expect(plan.total).toBe(32 * expected.length);
    // Every combination runs once with every seed; the seed is the fastest digit.
    const specs = expand(plan);
    specs.forEach((s, id) => expect(s.seed).toBe(expected[id % expected.length]));
    const bySetting = new Map<string, number[]>();
    for (const s of specs) {
      const key = JSON.stringify([s.optimizer, s.axes]);
      bySetting.set(key, [...(bySetting.get(key) ?? []), s.seed]);
    }
    expect(bySetting.size).toBe(32);
    for (const got of bySetting.values()) expect(got).toEqual(expected);
  });

  it('defaults to the single seed 0', () => {
    expect(parse({ ...bowl, optimizers: ['sgd'] }).seeds).toEqual([0]);
  });
});

describe('run ids', () => {
  const configs = {
    'grid.json': planOf('grid.json'),
    'book-bowl.json': planOf('book-bowl.json'),
    'grid + seeds + decay': parse({
      ...bowl,
      optimizers: ['sgd', 'momentum', { name: 'adam', beta1: [0.8, 0.9] }, 'rmsprop'],
      lr: [0.1, 0.01, 0.001],
      momentum: [0.5, 0.9],
      rho: [0.9, 0.99],
      weight_decay: [0, 1e-4],
      seeds: [0, 5],
    }),
    'random search': parse({
      ...bowl,
      optimizers: ['sgd', 'momentum', 'adam'],
      lr: { distribution: 'log-uniform', min: 1e-4, max: 1 },
      momentum: [0.5, 0.9],
      trials: 6,
      seeds: [1, 2],
    }),
  };

  it.each(Object.entries(configs))('%s: ids are 0 … total − 1, each combination once', (_, plan) => {
    const specs = expand(plan);
    expect(specs.map((s) => s.id)).toEqual(specs.map((_, i) => i));
    expect(new Set(specs.map(combination)).size).toBe(plan.total);
    expect(plan.optimizers.reduce((n, o) => n + o.count, 0)).toBe(plan.total);
  });

  it.each(Object.entries(configs))('%s: expanding twice gives equal specs', (_, plan) => {
    expect(expand(plan)).toEqual(expand(plan));
  });

  it('parsing the same text twice gives the same plan and specs', () => {
    const text = readFileSync(`${CONFIGS}grid.json`, 'utf8');
    const a = parseConfig(text, 'a.json');
    const b = parseConfig(text, 'a.json');
    expect(b).toEqual(a);
    expect(expand(b)).toEqual(expand(a));
  });

  it('a grid with four axes has the size of their product', () => {
    const plan = configs['grid + seeds + decay'];
    // sgd: lr 3 × wd 2 × seeds 2; momentum: × momentum 2; adam: × beta1 2; rmsprop: × rho 2.
    expect(counts(plan)).toEqual({ sgd: 12, momentum: 24, adam: 24, rmsprop: 24 });
  });
});

describe('random search', () => {
  const logLr = { distribution: 'log-uniform', min: 1e-6, max: 1e-2 } as const;
  const search = (extra: object = {}): Plan =>
    parse({ ...bowl, optimizers: ['sgd', 'momentum', 'adam'], lr: logLr, trials: 50, ...extra });

  it('draws one value per trial per optimizer, inside the range', () => {
    const plan = search();
    expect(plan.random).toBe(true);
    expect(plan.total).toBe(150);
    expect(counts(plan)).toEqual({ sgd: 50, momentum: 50, adam: 50 });
    for (const s of expand(plan)) {
      expect(s.hyper.lr).toBeGreaterThanOrEqual(1e-6);
      expect(s.hyper.lr).toBeLessThanOrEqual(1e-2);
      expect(s.axes.lr).toBe(s.hyper.lr);
    }
    expect(expand(plan).map((s) => s.trial)).toEqual([0, 1, 2].flatMap(() => Array.from({ length: 50 }, (_, t) => t)));
  });

  it('is spread evenly over the decades (log-uniform)', () => {
    const logs = expand(search())
      .filter((s) => s.optimizer === 'sgd')
      .map((s) => Math.log10(s.hyper.lr));
    const mean = logs.reduce((a, b) => a + b, 0) / logs.length;
    // 50 draws of U(−6, −2): mean −4, standard error 1.15/√50 ≈ 0.16.
    expect(Math.abs(mean + 4)).toBeLessThan(0.65);
    for (const decade of [-6, -5, -4, -3])
      expect(
        logs.some((x) => x >= decade && x < decade + 1),
        `decade ${decade}`,
      ).toBe(true);
  });

  it('gives the same values on every parse', () => {
    const lrs = (p: Plan) => expand(p).map((s) => s.hyper.lr);
    expect(lrs(search())).toEqual(lrs(search()));
    expect(lrs(search({ search_seed: 0 }))).toEqual(lrs(search())); // 0 is the default
  });

  it('gives different values for a different search_seed', () => {
    const a = expand(search({ search_seed: 1 })).map((s) => s.hyper.lr);
    const b = expand(search({ search_seed: 2 })).map((s) => s.hyper.lr);
    const same = a.filter((x, i) => x === b[i]).length;
    expect(same).toBe(0);
  });

  it('uses the same value for trial t across optimizers', () => {
    const specs = expand(search());
    for (let t = 0; t < 50; t++) {
      const values = specs.filter((s) => s.trial === t).map((s) => s.hyper.lr);
      expect(values.length).toBe(3);
      expect(new Set(values).size).toBe(1);
    }
    expect(new Set(specs.map((s) => s.hyper.lr)).size).toBe(50);
  });

  it('an optimizer with its own distribution draws its own values', () => {
    const plan = parse({ ...bowl, optimizers: ['sgd', { name: 'adam', lr: logLr }], lr: logLr, trials: 20 });
    const specs = expand(plan);
    const sgd = specs.filter((s) => s.optimizer === 'sgd').map((s) => s.hyper.lr);
    const adam = specs.filter((s) => s.optimizer === 'adam').map((s) => s.hyper.lr);
    expect(adam.every((x) => x >= 1e-6 && x <= 1e-2)).toBe(true);
    expect(adam.filter((x, i) => x === sgd[i]).length).toBe(0);
  });

  it('uniform: values inside the range, reproducible, spread over it', () => {
    const config = {
      ...bowl,
      optimizers: ['momentum', 'nesterov'],
      momentum: { distribution: 'uniform', min: 0.5, max: 0.99 },
      trials: 40,
    };
    const specs = expand(parse(config));
    expect(specs.length).toBe(80);
    const values = specs.filter((s) => s.optimizer === 'momentum').map((s) => s.hyper.momentum);
    expect(values.every((x) => x >= 0.5 && x <= 0.99)).toBe(true);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    // Mean of U(0.5, 0.99) is 0.745, standard error 0.141/√40 ≈ 0.022.
    expect(Math.abs(mean - 0.745)).toBeLessThan(0.09);
    expect(values.some((x) => x < 0.6) && values.some((x) => x > 0.9)).toBe(true);
    expect(specs.filter((s) => s.optimizer === 'nesterov').map((s) => s.hyper.momentum)).toEqual(values);
    expect(expand(parse(config))).toEqual(specs);
    // An axis no sampled optimizer uses keeps its default.
    expect(specs.every((s) => s.hyper.lr === 0.01)).toBe(true);
  });

  it('grid axes and seeds multiply the trials', () => {
    const plan = parse({
      ...bowl,
      optimizers: ['sgd', 'momentum'],
      lr: logLr,
      momentum: [0.5, 0.9],
      trials: 10,
      seeds: [0, 1, 2],
    });
    expect(counts(plan)).toEqual({ sgd: 30, momentum: 60 });
    const specs = expand(plan);
    expect(new Set(specs.map(combination)).size).toBe(90);
    // Within one trial, every grid point and seed sees the trial's value.
    for (let t = 0; t < 10; t++)
      expect(new Set(specs.filter((s) => s.trial === t).map((s) => s.hyper.lr)).size).toBe(1);
  });
});

describe('configs the grid refuses', () => {
  it.each([
    { why: 'a repeated grid value', config: { optimizers: ['sgd'], lr: [0.1, 0.1] }, message: /lr\[1\].*repeats/ },
    { why: 'a repeated seed', config: { optimizers: ['sgd'], seeds: [1, 1] }, message: /seeds\[1\].*repeats/ },
    { why: 'a repeated optimizer', config: { optimizers: ['sgd', 'sgd'] }, message: /optimizers\[1\].*repeats "sgd"/ },
    {
      why: 'an axis no optimizer uses',
      config: { optimizers: ['sgd'], rho: [0.9] },
      message: /rho applies to no optimizer/,
    },
    {
      why: 'a per-optimizer axis it does not take',
      config: { optimizers: [{ name: 'sgd', momentum: 0.5 }] },
      message: /optimizers\[0\]\.momentum does not apply/,
    },
    {
      why: 'a distribution without trials',
      config: { optimizers: ['sgd'], lr: { distribution: 'uniform', min: 0.1, max: 1 } },
      message: /trials is required/,
    },
    {
      why: 'trials without a distribution',
      config: { optimizers: ['sgd'], trials: 3 },
      message: /trials needs an axis/,
    },
    {
      why: 'max not above min',
      config: { optimizers: ['sgd'], lr: { distribution: 'uniform', min: 0.1, max: 0.1 }, trials: 2 },
      message: /lr\.max must be greater than min/,
    },
  ])('$why', ({ config, message }) => {
    expect(() => parse({ ...bowl, ...config }, 'bad.json')).toThrow(message);
    expect(() => parse({ ...bowl, ...config }, 'bad.json')).toThrow(/^bad\.json: /);
  });

  it('more runs than maxRuns', () => {
    const text = readFileSync(`${CONFIGS}grid.json`, 'utf8');
    expect(() => parseConfig(text, 'grid.json', { maxRuns: 31 })).toThrow(/expands to 32 runs.*--max-runs 32/);
    expect(parseConfig(text, 'grid.json', { maxRuns: 32 }).total).toBe(32);
  });
});

describe('problem options as axes', () => {
  const mnist = (problem: object, rest: object = {}) =>
    parse({ name: 'unit', problem: { name: 'mnist-mlp', ...problem }, optimizers: ['sgd'], steps: 5, ...rest });

  it("one list is one axis: init [0.01, 'xavier', 'he'] × lr × seeds, the problem axis after lr, before seeds", () => {
    const plan = mnist({ init: [0.01, 'xavier', 'he'] }, { lr: [0.01, 0.1], seeds: [0, 1] });
    expect(plan.total).toBe(12);
    expect(counts(plan)).toEqual({ sgd: 12 });
    expect(plan.problem.axes).toEqual([{ name: 'init', values: [0.01, 'xavier', 'he'] }]);
    const specs = expand(plan);
    expect(specs.map((s) => [s.hyper.lr, (s.problem as { init: unknown }).init, s.seed])).toEqual([
      [0.01, 0.01, 0],
      [0.01, 0.01, 1],
      [0.01, 'xavier', 0],
      [0.01, 'xavier', 1],
      [0.01, 'he', 0],
      [0.01, 'he', 1],
      [0.1, 0.01, 0],
      [0.1, 0.01, 1],
      [0.1, 'xavier', 0],
      [0.1, 'xavier', 1],
      [0.1, 'he', 0],
      [0.1, 'he', 1],
    ]);
    expect(specs.map((s) => s.problemValues)).toEqual(specs.map((s) => [(s.problem as { init: unknown }).init]));
    // Each run's options are resolved in full (defaults included), as a plain plan's are.
    expect(specs[2].problem).toEqual(mnistMlp.resolve({ init: 'xavier' }));
    expect(plan.problem.options).toEqual(mnistMlp.resolve({ init: 0.01 }));
  });

  it('several axes cross in the order the problem declares its options, whatever the order of the keys', () => {
    const a = mnist({ batch_norm: [false, true], init: [1, 0.1] });
    const b = mnist({ init: [1, 0.1], batch_norm: [false, true] });
    expect(a.problem.axes!.map((x) => x.name)).toEqual(['init', 'batch_norm']);
    expect(a).toEqual(b);
    expect(expand(a).map((s) => s.problemValues)).toEqual([
      [1, false],
      [1, true],
      [0.1, false],
      [0.1, true],
    ]);
  });

  it('a list option takes a list of lists: hidden [[100], [50, 50]] is an axis, hidden [100, 100] a value', () => {
    const swept = mnist({ hidden: [[100], [50, 50]] });
    expect(swept.total).toBe(2);
    expect(expand(swept).map((s) => (s.problem as { hidden: number[] }).hidden)).toEqual([[100], [50, 50]]);
    const plain = mnist({ hidden: [100, 100] });
    expect(plain.total).toBe(1);
    // No axes: the plan has exactly its former shape (and fingerprint).
    expect(plain.problem).toEqual({ name: 'mnist-mlp', options: mnistMlp.resolve({ hidden: [100, 100] }) });
    expect(mnist({ hidden: [] }).problem.axes).toBeUndefined(); // [] is a value: no hidden layers
    expect(mnist({ hidden: [[]] }).problem.axes).toEqual([{ name: 'hidden', values: [[]] }]);
    const start = parse({
      ...bowl,
      problem: {
        name: 'anisotropic-bowl',
        start: [
          [-7, 2],
          [3, 1],
        ],
      },
      optimizers: ['sgd'],
    });
    expect(expand(start).map((s) => s.problem)).toEqual([{ start: [-7, 2] }, { start: [3, 1] }]);
  });

  it('multiplies every optimizer, random-search trials included (the problem axis above trials)', () => {
    const plan = mnist(
      { dropout: [0, 0.2] },
      {
        optimizers: ['sgd', 'momentum'],
        momentum: [0.5, 0.9],
        lr: { distribution: 'log-uniform', min: 1e-3, max: 1e-1 },
        trials: 3,
      },
    );
    expect(counts(plan)).toEqual({ sgd: 6, momentum: 12 });
    const momentum = expand(plan).filter((s) => s.optimizer === 'momentum');
    expect(momentum.map((s) => [s.hyper.momentum, s.problemValues[0], s.trial])).toEqual([
      [0.5, 0, 0],
      [0.5, 0, 1],
      [0.5, 0, 2],
      [0.5, 0.2, 0],
      [0.5, 0.2, 1],
      [0.5, 0.2, 2],
      [0.9, 0, 0],
      [0.9, 0, 1],
      [0.9, 0, 2],
      [0.9, 0.2, 0],
      [0.9, 0.2, 1],
      [0.9, 0.2, 2],
    ]);
    // Trial t draws the same rate whatever the problem variant.
    expect(momentum[0].hyper.lr).toBe(momentum[3].hyper.lr);
    expect(new Set(expand(plan).map(combination)).size).toBe(plan.total);
  });

  it.each([
    { why: 'an empty list', problem: { init: [] }, message: /problem\.init must not be empty, got \[\]/ },
    {
      why: 'a repeated value',
      problem: { init: ['he', 0.01, 'he'] },
      message: /problem\.init\[2\] repeats the value "he"/,
    },
    {
      why: 'a repeated list',
      problem: { hidden: [[10], [10]] },
      message: /problem\.hidden\[1\] repeats the value \[10\]/,
    },
    { why: 'a value out of range', problem: { dropout: [0, 1] }, message: /problem\.dropout\[1\] must be < 1, got 1/ },
    {
      why: 'a type the option does not take',
      problem: { batch_norm: [false, 'true'] },
      message: /problem\.batch_norm\[1\]/,
    },
    {
      why: 'a value the problem rejects',
      problem: { hidden: [[100], [100, 0]] },
      message: /problem\.hidden\[1\]\[1\] must be >= 1, got 0/,
    },
    {
      why: 'a problem rule a value breaks',
      problem: { hidden: [], batch_norm: [false, true] },
      message: /problem\.batch_norm\[1\] must be false for a net without hidden layers/,
    },
    {
      why: 'a combination the problem rejects, named',
      problem: { hidden: [[], [100]], batch_norm: true },
      message:
        /problem\.batch_norm must be false for a net without hidden layers \(hidden: \[\]\), got true \(with hidden = \[\]\)/,
    },
    {
      why: 'an axis that would change the columns',
      problem: { train_samples: 500, validation: [0, 0.2] },
      message: /problem\.validation cannot be swept here: its values give the runs different result or curve columns/,
    },
    {
      why: 'a wrong type, with the list form in the message',
      problem: { dropout: 'x' },
      message: /problem\.dropout must be a number, or a non-empty list of such values \(an axis\), got "x"/,
    },
  ])('refuses $why in one line', ({ problem, message }) => {
    expect(() => mnist(problem)).toThrow(message);
    try {
      mnist(problem);
    } catch (e) {
      expect((e as Error).message).toMatch(/^test\.json: /);
      expect((e as Error).message).not.toMatch(/\n/);
    }
  });

  it('refuses more variants than the limit, before resolving them', () => {
    const many = Array.from({ length: 101 }, (_, i) => i + 1);
    const text = { problem: { name: 'quadratic', dim: many, condition: many }, optimizers: ['sgd'] };
    expect(() => parse({ ...bowl, ...text })).toThrow(/10201 variants of the problem, more than the limit of 10000/);
  });

  it('refuses an axis whose values change the curve columns (rosenbrock dim), takes one that does not', () => {
    const rosenbrock = (dim: number[]) => parse({ ...bowl, problem: { name: 'rosenbrock', dim }, optimizers: ['sgd'] });
    expect(() => rosenbrock([2, 5])).toThrow(/problem\.dim cannot be swept here/);
    expect(rosenbrock([20, 30]).total).toBe(2);
  });
});
