/**
 * A problem of the user's own (`"problem": {"module": …}`, src/problems/module.ts):
 * held to the book's reference values like the built-in bowl, by `evaluate` and by
 * `loss` alone; every bad module refused in one line before anything runs; a run
 * that throws or returns NaN is data; and what the built-in problems have (the
 * same CSV whatever the workers, resume, curves with the trajectory) works here too.
 */
import {
  copyFileSync,
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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configPlan, configWarnings, parseConfig, planConfig } from '../src/config/load.js';
import { ConfigError } from '../src/errors.js';
import type { Executor } from '../src/executor.js';
import { createExecutor } from '../src/executors/index.js';
import { manifestPath } from '../src/manifest.js';
import { NUMERICAL_H } from '../src/problems/module.js';
import { collect, execute, readCsv } from './helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const FIXTURES = fileURLToPath(new URL('./fixtures/problems/', import.meta.url));
const EVALUATE = join(FIXTURES, 'bowl-evaluate.mjs');
const LOSS = join(FIXTURES, 'bowl-loss.mjs');
const MISBEHAVING = join(FIXTURES, 'misbehaving.mjs');
const TMP = mkdtempSync(join(tmpdir(), 'sweep-user-problem-'));

type Row = Record<string, string>;

/** The CLI, from the repository root (no IPC channel: see the unloadable module below). */
const sweepCli = (...args: string[]) => execute(process.execPath, [CLI, ...args], { cwd: ROOT });

let executor: Executor;
beforeAll(async () => {
  executor = createExecutor('piscina', { workers: 2 });
  await executor.ready();
});
afterAll(async () => {
  await executor.close();
  rmSync(TMP, { recursive: true, force: true });
});

/** The plan of a config object, read as the library and the CLI read one. */
const planOf = (config: object, file = join(TMP, 'config.json')) => configPlan(config, file);

async function sweepRows(config: object, on: Executor = executor, curveEvery = 0): Promise<Row[]> {
  const { csv } = await collect(await planOf(config), on, { curveEvery });
  return parse(csv, { columns: true }) as Row[];
}

const withoutDuration = (rows: Row[]): Row[] => rows.map(({ duration_ms: _d, ...rest }) => rest);

function relErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), Number.MIN_VALUE);
}

describe("a user's problem matches the book, as the built-in bowl does", () => {
  const reference = readCsv(fileURLToPath(new URL('./fixtures/reference/anisotropic_bowl.csv', import.meta.url)));
  /** One sweep per step count: each reference row as one optimizer with its own rates. */
  const configs = (module: string) =>
    [...new Set(reference.map((r) => r.steps))].map((steps) => ({
      name: 'reference',
      problem: { module },
      optimizers: reference
        .filter((r) => r.steps === steps)
        .map((r) => ({ name: r.optimizer, lr: Number(r.lr), ...(r.momentum && { momentum: Number(r.momentum) }) })),
      steps: Number(steps),
    }));

  /** Each reference row beside the engine's row for the same optimizer and rates. */
  async function pairs(module: string): Promise<[Row, Row][]> {
    const out: [Row, Row][] = [];
    for (const config of configs(module)) {
      const rows = await sweepRows(config);
      for (const row of rows) {
        const ref = reference.find(
          (r) => r.optimizer === row.optimizer && r.steps === row.steps && Number(r.lr) === Number(row.lr),
        );
        out.push([ref!, row]);
      }
    }
    expect(out.length).toBe(reference.length);
    return out;
  }

  function expectClose(ref: Row, row: Row, relative: number, absolute: number): void {
    expect(row.status).toBe('ok');
    expect(relErr(Number(row.final_loss), Number(ref.loss)), `${ref.optimizer} loss`).toBeLessThan(relative);
    for (const [mine, theirs] of [
      [row.x0, ref.x],
      [row.x1, ref.y],
    ]) {
      const [a, b] = [Number(mine), Number(theirs)];
      if (Math.abs(b) > 1e-6) expect(relErr(a, b), `${ref.optimizer} coordinate`).toBeLessThan(relative);
      else expect(Math.abs(a - b), `${ref.optimizer} coordinate near 0`).toBeLessThan(absolute);
    }
  }

  it('given evaluate (the gradient): to 1e-12 relative, in worker threads', async () => {
    for (const [ref, row] of await pairs(EVALUATE)) expectClose(ref, row, 1e-12, 1e-12);
  });

  it('given loss only (central differences, h = 1e-4): to 1e-6 relative', async () => {
    expect(NUMERICAL_H).toBe(1e-4);
    let worst = 0;
    for (const [ref, row] of await pairs(LOSS)) {
      expectClose(ref, row, 1e-6, 1e-6);
      worst = Math.max(worst, relErr(Number(row.final_loss), Number(ref.loss)));
    }
    // Central differences are exact on a quadratic up to rounding: not exact, though.
    expect(worst).toBeGreaterThan(0);
  });
});

describe('bad modules: one line naming the config, the module and the fault, before anything runs', () => {
  const dir = join(TMP, 'bad');
  mkdirSync(dir, { recursive: true });
  const configFile = join(dir, 'bad.json');
  /** A module in `dir` with this source; a config beside it naming it. */
  const moduleWith = (name: string, source: string): string => {
    writeFileSync(join(dir, name), source);
    return `./${name}`;
  };
  const config = (module: string, more: object = {}) => ({
    name: 'bad',
    problem: { module, ...more },
    optimizers: ['sgd'],
    steps: 5,
    seeds: [0, 1],
  });
  const good = 'dim: () => 2, start: () => [1, 2], loss: (W) => W[0] * W[0] + W[1] * W[1]';

  const cases: { what: string; file: string; source?: string; says: RegExp }[] = [
    { what: 'a missing module', file: 'missing.mjs', says: /"\.\/missing\.mjs": does not exist \(.*missing\.mjs\)$/ },
    {
      what: 'a syntax error',
      file: 'syntax.mjs',
      source: 'export default { dim: () => 2,, };',
      // Node says SyntaxError (the CLI test below); vitest's loader, which imports
      // the module here, words it its own way.
      says: /"\.\/syntax\.mjs": cannot be imported: \w+Error: /,
    },
    {
      what: 'a module that throws as it loads',
      file: 'throws.mjs',
      source: 'throw new Error("no GPU here");',
      says: /"\.\/throws\.mjs": cannot be imported: Error: no GPU here$/,
    },
    {
      what: 'no default export',
      file: 'nodefault.mjs',
      source: `export const problem = { ${good} };`,
      says: /"\.\/nodefault\.mjs": has no default export; it needs export default \{ dim\(options\), start/,
    },
    {
      what: 'a default export that is not an object',
      file: 'number.mjs',
      source: 'export default 2;',
      says: /"\.\/number\.mjs": its default export must be an object, got 2/,
    },
    {
      what: 'no dim',
      file: 'nodim.mjs',
      source: 'export default { start: () => [1, 2], loss: () => 0 };',
      says: /"\.\/nodim\.mjs": its default export has no dim function; it needs/,
    },
    {
      what: 'a dim that is a number, not a function',
      file: 'dimnumber.mjs',
      source: 'export default { dim: 2, start: () => [1, 2], loss: () => 0 };',
      says: /"\.\/dimnumber\.mjs": its default export has no dim function \(got 2\)/,
    },
    {
      what: 'no start',
      file: 'nostart.mjs',
      source: 'export default { dim: () => 2, loss: () => 0 };',
      says: /"\.\/nostart\.mjs": its default export has no start function/,
    },
    {
      what: 'neither evaluate nor loss',
      file: 'noloss.mjs',
      source: 'export default { dim: () => 2, start: () => [1, 2] };',
      says: /"\.\/noloss\.mjs": its default export has neither evaluate\(W, grad, options\) nor loss\(W, options\)$/,
    },
    {
      what: 'an evaluate that is not a function',
      file: 'evalnumber.mjs',
      source: 'export default { dim: () => 2, start: () => [1, 2], evaluate: 3 };',
      says: /"\.\/evalnumber\.mjs": its default export's evaluate must be a function, got 3$/,
    },
    {
      what: 'a dim of 0',
      file: 'dim0.mjs',
      source: 'export default { dim: () => 0, start: () => [], loss: () => 0 };',
      says: /"\.\/dim0\.mjs": dim\(options\) must return an integer >= 1, got 0$/,
    },
    {
      what: 'a fractional dim',
      file: 'dimhalf.mjs',
      source: 'export default { dim: () => 2.5, start: () => [1, 2], loss: () => 0 };',
      says: /"\.\/dimhalf\.mjs": dim\(options\) must return an integer >= 1, got 2\.5$/,
    },
    {
      what: 'a dim that throws',
      file: 'dimthrows.mjs',
      source: 'export default { dim: (o) => o.size.length, start: () => [1, 2], loss: () => 0 };',
      says: /"\.\/dimthrows\.mjs": dim\(options\) threw TypeError: /,
    },
    {
      what: 'a start of the wrong length',
      file: 'start3.mjs',
      source: 'export default { dim: () => 2, start: () => [1, 2, 3], loss: () => 0 };',
      says: /"\.\/start3\.mjs": start\(options, 0\) returned 3 values, but dim\(options\) is 2$/,
    },
    {
      what: 'a start with a NaN for one seed',
      file: 'startnan.mjs',
      source: 'export default { dim: () => 2, start: (o, seed) => [1, seed === 1 ? NaN : 2], loss: () => 0 };',
      says: /"\.\/startnan\.mjs": start\(options, 1\)\[1\] must be a finite number, got NaN$/,
    },
    {
      what: 'a start that is not an array',
      file: 'startnumber.mjs',
      source: 'export default { dim: () => 2, start: () => 5, loss: () => 0 };',
      says: /"\.\/startnumber\.mjs": start\(options, 0\) must return an array of 2 numbers, got 5$/,
    },
    {
      what: 'a start drawn from Math.random',
      file: 'startrandom.mjs',
      source: 'export default { dim: () => 2, start: () => [Math.random(), 1], loss: () => 0 };',
      says: /"\.\/startrandom\.mjs": start\(options, 0\) returned two different points for the same seed/,
    },
  ];

  it.each(cases)('$what', async ({ file, source, says }) => {
    const module = source === undefined ? `./${file}` : moduleWith(file, source);
    const error = await planOf(config(module), configFile).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message.startsWith(`${configFile}: problem.module "${module}": `), message).toBe(true);
    expect(message).toMatch(says);
    expect(message).not.toMatch(/\n/);
  });

  it('name and module together are refused', async () => {
    await expect(
      planOf(config(moduleWith('both.mjs', `export default { ${good} };`), { name: 'rosenbrock' }), configFile),
    ).rejects.toThrow(
      /problem gives both name \("rosenbrock"\) and module \("\.\/both\.mjs"\); give name for a built-in problem, module for your own$/,
    );
  });

  it('module must be a non-empty string', async () => {
    await expect(planOf(config(''))).rejects.toThrow(/problem\.module must not be empty/);
    await expect(planOf({ ...config('x'), problem: { module: 3 } })).rejects.toThrow(
      /problem\.module must be a string, got 3/,
    );
  });

  const cli = (module: string) => {
    writeFileSync(configFile, JSON.stringify(config(module)));
    return sweepCli(configFile, '--out', join(dir, 'results', 'x.csv'));
  };

  it('from the CLI: a syntax error, exit 2, one line on stderr, nothing written', async () => {
    const r = await cli(moduleWith('cli-syntax.mjs', 'export default { dim: () => 2,, };'));
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `sweep: ${configFile}: problem.module "./cli-syntax.mjs": cannot be imported: SyntaxError: Unexpected token ','\n`,
    );
    expect(existsSync(join(dir, 'results'))).toBe(false);
  });

  it('from the CLI: no start, exit 2, one line on stderr, nothing written', async () => {
    const r = await cli(moduleWith('cli.mjs', 'export default { dim: () => 2 };'));
    const out = join(dir, 'results');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `sweep: ${configFile}: problem.module "./cli.mjs": its default export has no start function; it needs export default { dim(options), start(options, seed), evaluate(W, grad, options) or loss(W, options) }\n`,
    );
    expect(existsSync(out)).toBe(false);
  });
});

describe('a run that fails is data', () => {
  const config = (mode: string) => ({
    name: 'misbehaving',
    problem: { module: MISBEHAVING, mode },
    optimizers: ['sgd', 'adam'],
    steps: 20,
    seeds: [0, 1],
  });

  it('evaluate throws: that run is error, with the message; the sweep goes on', async () => {
    const rows = await sweepRows(config('throw'));
    expect(rows.length).toBe(4);
    for (const row of rows) {
      expect(row.status).toBe('error');
      expect(row.error).toMatch(/^RangeError: no loss at y = /);
      expect(row.final_loss).toBe('');
    }
  });

  it.each(['nan', 'inf'])('evaluate returns %s: diverged at step 1', async (mode) => {
    for (const row of await sweepRows(config(mode))) {
      expect(row.status).toBe('diverged');
      expect(row.diverged_at).toBe('1');
      expect(Number(row.best_loss)).toBeGreaterThan(0);
    }
  });

  it('evaluate returns nothing: error, saying so', async () => {
    for (const row of await sweepRows(config('undefined'))) {
      expect(row.status).toBe('error');
      expect(row.error).toBe('TypeError: evaluate(W, grad, options) returned undefined, not a number');
    }
  });
});

describe('what the built-in problems have, a user problem has', () => {
  const config = {
    name: 'himmelblau',
    problem: { module: join(ROOT, 'configs', 'himmelblau.mjs') },
    optimizers: ['sgd', 'momentum', 'adam'],
    lr: [0.001, 0.01, 0.1],
    steps: 100,
    seeds: [0, 1, 2, 3, 4],
  };

  it('the same CSV on 1 or 2 threads and on child processes, duration_ms aside', async () => {
    const two = await sweepRows(config);
    expect(two.length).toBe(3 * 3 * 5);
    const one = createExecutor('piscina', { workers: 1 });
    const child = createExecutor('child', { workers: 2 });
    try {
      await Promise.all([one.ready(), child.ready()]);
      expect(withoutDuration(await sweepRows(config, one))).toEqual(withoutDuration(two));
      expect(withoutDuration(await sweepRows(config, child))).toEqual(withoutDuration(two));
    } finally {
      await Promise.all([one.close(), child.close()]);
    }
    // Its own columns: the final point; seeds start apart, and so end apart.
    expect(Object.keys(two[0])).toContain('x0');
    expect(new Set(two.map((r) => r.x0)).size).toBeGreaterThan(5);
  });

  it('curves trace the 2-D trajectory from the start the module gives', async () => {
    const plan = await planOf(config);
    const { outcome } = await collect(plan, executor, { curveEvery: 10 }, [
      {
        accept(batch) {
          const c = batch.curves!;
          expect(c.width).toBe(3); // loss, x0, x1
          for (let k = 0; k < batch.count; k++) {
            const from = c.offsets[k];
            expect(c.step[from]).toBe(0);
            const seed = plan.seeds[(batch.first + k) % plan.seeds.length];
            const angle = seed * 2.399963229728653;
            expect(c.values[from * 3 + 1]).toBeCloseTo(5 * Math.cos(angle), 12);
            expect(c.values[from * 3 + 2]).toBeCloseTo(5 * Math.sin(angle), 12);
          }
        },
      },
    ]);
    expect(outcome.runs).toBe(plan.total);
  });

  it('the manifest records the module by absolute path, and reads back as the same plan', async () => {
    const plan = await configPlan(
      { ...config, problem: { module: './himmelblau.mjs', radius: 3 } },
      join(ROOT, 'configs', 'x.json'),
    );
    const recorded = planConfig(plan);
    expect(recorded.problem).toEqual({ module: join(ROOT, 'configs', 'himmelblau.mjs'), radius: 3 });
    expect(parseConfig(JSON.stringify(recorded), 'elsewhere/manifest.json')).toEqual(plan);
  });

  it('seeds that reach a fixed start are said to change nothing; a seeded start is not', async () => {
    const fixed = await planOf({ ...config, problem: { ...config.problem, start: [1, 1] } });
    expect(configWarnings(fixed, 'h.json')).toEqual([
      `h.json: seeds [0,1,2,3,4]: configs/himmelblau.mjs starts every run from the same point and draws nothing from the seed, so each setting runs 5 identical times`,
    ]);
    expect(configWarnings(await planOf(config), 'h.json')).toEqual([]);
  });

  it('--resume of a cut CSV gives the uninterrupted one (CLI)', async () => {
    const dir = join(TMP, 'resume');
    mkdirSync(dir);
    const file = join(dir, 'h.json');
    // The config names the module relative to itself: the example, copied beside it.
    copyFileSync(join(ROOT, 'configs', 'himmelblau.mjs'), join(dir, 'himmelblau.mjs'));
    writeFileSync(file, JSON.stringify({ ...config, problem: { module: './himmelblau.mjs' } }));
    const cli = (...args: string[]) => sweepCli(file, ...args);
    const full = join(dir, 'full.csv');
    const cut = join(dir, 'cut.csv');
    expect((await cli('--out', full, '--workers', '2')).code).toBe(0);
    const text = readFileSync(full, 'utf8');
    const lines = text.split('\n');
    writeFileSync(cut, `${lines.slice(0, 12).join('\n')}\n${lines[12].slice(0, 10)}`);
    const manifest = JSON.parse(readFileSync(manifestPath(full), 'utf8')) as { complete: boolean };
    writeFileSync(manifestPath(cut), JSON.stringify({ ...manifest, complete: false }));
    const r = await cli('--out', cut, '--resume', '--workers', '2');
    expect(r.code, r.stderr).toBe(0);
    const rows = (path: string) => withoutDuration(parse(readFileSync(path, 'utf8'), { columns: true }) as Row[]);
    expect(rows(cut)).toEqual(rows(full));
    // Each sweep's own files and nothing else: its summary and report beside it.
    expect(readdirSync(dir).sort()).toEqual([
      'cut.csv',
      'cut.csv.sweep.json',
      'cut.html',
      'cut.summary.csv',
      'full.csv',
      'full.csv.sweep.json',
      'full.html',
      'full.summary.csv',
      'h.json',
      'himmelblau.mjs',
    ]);
  });
});

describe('a module that no worker can import ends the sweep in one line', () => {
  it.each(['piscina', 'child'])(
    '%s: exit 1, one line naming the module and the syntax error, no stack',
    async (kind) => {
      const dir = join(TMP, `unloadable-${kind}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'syntax-error.mjs'), 'export default { dim: () => 2,, };\n');
      writeFileSync(
        join(dir, 'problem.mjs'),
        [
          "import { isMainThread } from 'node:worker_threads';",
          '// The coordinator (a CLI without an IPC channel) loads this; its workers, thread or child process, cannot.',
          "if (!isMainThread || typeof process.send === 'function') await import('./syntax-error.mjs');",
          'export default { dim: () => 2, start: () => [1, 2], loss: (W) => W[0] * W[0] + W[1] * W[1] };',
        ].join('\n'),
      );
      const file = join(dir, 'c.json');
      writeFileSync(
        file,
        JSON.stringify({ name: 'u', problem: { module: './problem.mjs' }, optimizers: ['sgd'], steps: 5 }),
      );
      const r = await sweepCli(file, '--out', join(dir, 'u.csv'), '--executor', kind, '--workers', '1');
      expect(r.code).toBe(1);
      const lines = r.stderr.split('\n').filter(Boolean);
      expect(lines.length, r.stderr).toBe(1);
      expect(lines[0]).toMatch(
        /^sweep: a worker cannot load the problem module .*problem\.mjs: cannot be imported: SyntaxError: Unexpected token ','$/,
      );
    },
  );
});
