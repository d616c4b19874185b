/**
 * The bad-input catalogue of issue 3: every case ends in one line naming the file,
 * the field and the value. In this process through parseConfig / loadConfig (fast),
 * and a few through the CLI: exit code 2, exactly one line on stderr, no stack, and
 * no output file or sweep record created.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../src/config/load.js';
import { ConfigError, UsageError } from '../src/errors.js';
import { OPTIMIZER_NAMES } from '../src/optimizers/index.js';
import { PROBLEM_NAMES } from '../src/problems/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const FILE = 'configs/bad.json';

/** A valid config; each case changes one thing. */
const BASE = {
  name: 'bad',
  problem: { name: 'anisotropic-bowl' },
  optimizers: ['sgd', 'momentum'],
  lr: [0.01, 0.1],
  steps: 10,
};

function with_(changes: Record<string, unknown>): string {
  return JSON.stringify({ ...BASE, ...changes });
}

/** The ConfigError that `text` raises; fails the test if it parses or throws anything else. */
function failure(text: string, maxRuns?: number): ConfigError {
  try {
    parseConfig(text, FILE, maxRuns === undefined ? {} : { maxRuns });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error(`parsed without error: ${text}`);
}

/** The message, after checking its shape: one line, starting with the file name. */
function message(text: string, maxRuns?: number): string {
  const m = failure(text, maxRuns).message;
  expect(m.startsWith(`${FILE}: `), m).toBe(true);
  expect(m, m).not.toMatch(/[\r\n]/);
  return m;
}

interface Case {
  what: string;
  text: string;
  /** Substrings the message must contain: the field, the value, the rule or the fix. */
  says: (string | RegExp)[];
}

function expectSays(m: string, says: (string | RegExp)[]): void {
  for (const s of says) {
    if (typeof s === 'string') expect(m, m).toContain(s);
    else expect(m, m).toMatch(s);
  }
}

const CATALOGUE: Case[] = [
  // Malformed JSON: the line and the column of the first error.
  {
    what: 'malformed JSON (doubled comma), with line and column',
    text: '{\n  "name": "bad",\n  "steps": 10,,\n  "optimizers": ["sgd"]\n}',
    says: ['is not valid JSON', 'line 3, column 15'],
  },
  {
    what: 'malformed JSON (missing closing brace at the end)',
    text: '{\n  "name": "bad",\n  "steps": 10\n',
    says: ['is not valid JSON', 'line 4, column 1'],
  },
  { what: 'malformed JSON (single quotes)', text: "{'name': 'bad'}", says: ['is not valid JSON', 'line 1, column 2'] },
  { what: 'an empty file', text: '', says: ['is not valid JSON', 'line 1, column 1'] },
  { what: 'not an object', text: '[1, 2]', says: ['must be an object', '[1,2]'] },
  // Wrong types.
  { what: 'steps as a string', text: with_({ steps: '30' }), says: ['steps', 'integer', '"30"'] },
  { what: 'lr as a string', text: with_({ lr: '0.1' }), says: ['lr', '"0.1"'] },
  { what: 'seeds as a string', text: with_({ seeds: '1' }), says: ['seeds', '"1"'] },
  { what: 'problem as a string', text: with_({ problem: 'quadratic' }), says: ['problem', 'object', '"quadratic"'] },
  { what: 'name as a number', text: with_({ name: 5 }), says: ['name', 'string', '5'] },
  // Unknown keys, with the closest valid one.
  {
    what: 'an unknown top-level key',
    text: with_({ stpes: 3 }),
    says: ['stpes', 'not a known key', 'did you mean "steps"'],
  },
  {
    what: 'an unknown problem option',
    text: with_({ problem: { name: 'quadratic', dimm: 5 } }),
    says: ['problem.dimm', 'not a known key', 'did you mean "dim"'],
  },
  {
    what: 'an unknown key far from any valid one: no suggestion, the valid keys listed',
    text: with_({ zzzzzzzz: 1 }),
    says: ['zzzzzzzz', 'not a known key', 'valid keys: name, problem, optimizers'],
  },
  // Unknown optimizer or problem: the valid ones listed.
  {
    what: 'an unknown optimizer',
    text: with_({ optimizers: ['sgd', 'adamw'] }),
    says: ['optimizers[1]', '"adamw"', `one of ${OPTIMIZER_NAMES.join(', ')}`, 'did you mean "adam"'],
  },
  {
    what: 'an unknown optimizer in an entry with its own values',
    text: with_({ optimizers: [{ name: 'nesterv', lr: 0.1 }] }),
    says: ['optimizers[0].name', '"nesterv"', OPTIMIZER_NAMES.join(', '), 'did you mean "nesterov"'],
  },
  {
    what: 'an unknown problem',
    text: with_({ problem: { name: 'bowl' } }),
    says: ['problem.name', '"bowl"', `one of ${PROBLEM_NAMES.join(', ')}`],
  },
  { what: 'a missing problem name', text: with_({ problem: {} }), says: ['problem.name', 'is required'] },
  {
    what: 'a missing required key',
    text: JSON.stringify({ ...BASE, steps: undefined }),
    says: ['steps', 'is required'],
  },
  // Empty axes and lists.
  { what: 'an empty axis', text: with_({ lr: [] }), says: ['lr', 'must not be empty', '[]'] },
  { what: 'no optimizers', text: with_({ optimizers: [] }), says: ['optimizers', 'must not be empty', '[]'] },
  { what: 'no seeds', text: with_({ seeds: [] }), says: ['seeds', '[]'] },
  // Learning rate: zero, negative.
  { what: 'lr 0', text: with_({ lr: 0 }), says: ['lr', '> 0', 'got 0'] },
  { what: 'lr -0', text: with_({ lr: -0 }), says: ['lr', '> 0', 'got 0'] },
  { what: 'a negative lr in a list', text: with_({ lr: [0.1, -0.1] }), says: ['lr[1]', '> 0', '-0.1'] },
  {
    what: "a negative lr in an optimizer's own values",
    text: with_({ optimizers: [{ name: 'sgd', lr: -1 }] }),
    says: ['optimizers[0].lr', '> 0', '-1'],
  },
  {
    what: 'a negative lr as a distribution bound',
    text: with_({ lr: { distribution: 'uniform', min: -1, max: 1 }, trials: 2 }),
    says: ['lr.min', '-1'],
  },
  // Momentum outside [0, 1).
  { what: 'momentum 1', text: with_({ momentum: 1 }), says: ['momentum', '< 1', 'got 1'] },
  { what: 'momentum -0.1', text: with_({ momentum: -0.1 }), says: ['momentum', '>= 0', '-0.1'] },
  { what: 'momentum 1 in a list', text: with_({ momentum: [0.5, 1] }), says: ['momentum[1]', '< 1', 'got 1'] },
  {
    what: "momentum 1 in an optimizer's own values",
    text: with_({ optimizers: ['sgd', { name: 'momentum', momentum: 1 }] }),
    says: ['optimizers[1].momentum', '< 1', 'got 1'],
  },
  // Steps: non-integer, non-positive.
  { what: 'steps 0', text: with_({ steps: 0 }), says: ['steps', '>= 1', 'got 0'] },
  { what: 'steps 2.5', text: with_({ steps: 2.5 }), says: ['steps', 'integer', '2.5'] },
  { what: 'steps -1', text: with_({ steps: -1 }), says: ['steps', '>= 1', '-1'] },
  // Other ranges.
  { what: 'a negative seed', text: with_({ seeds: -1 }), says: ['seeds', '>= 0', '-1'] },
  { what: 'eps 0', text: with_({ optimizers: ['adam'], eps: 0 }), says: ['eps', '> 0', 'got 0'] },
  { what: 'a negative weight decay', text: with_({ weight_decay: -1 }), says: ['weight_decay', '>= 0', '-1'] },
  { what: 'a name with a space', text: with_({ name: 'a b' }), says: ['name', '"a b"'] },
  {
    what: 'trials 0',
    text: with_({ lr: { distribution: 'uniform', min: 0.1, max: 1 }, trials: 0 }),
    says: ['trials', '>= 1', 'got 0'],
  },
  // Contradictory settings.
  { what: 'trials without a distribution', text: with_({ trials: 3 }), says: ['trials', 'distribution', 'got 3'] },
  {
    what: 'search_seed without a distribution',
    text: with_({ search_seed: 7 }),
    says: ['search_seed', 'distribution', 'got 7'],
  },
  {
    what: 'a distribution without trials',
    text: with_({ lr: { distribution: 'log-uniform', min: 0.001, max: 1 } }),
    says: ['trials', 'is required', 'distribution'],
  },
  {
    what: 'momentum given, but only sgd and adam in the sweep',
    text: with_({ optimizers: ['sgd', 'adam'], momentum: 0.9 }),
    says: ['momentum', 'applies to no optimizer', 'momentum, nesterov', '0.9'],
  },
  {
    what: 'rho given, but no rmsprop',
    text: with_({ rho: [0.9, 0.99] }),
    says: ['rho', 'applies to no optimizer', 'rmsprop', '[0.9,0.99]'],
  },
  {
    what: 'an optimizer override of an axis it does not use',
    text: with_({ optimizers: [{ name: 'sgd', momentum: 0.9 }] }),
    says: ['optimizers[0].momentum', 'does not apply', 'sgd'],
  },
  {
    what: 'duplicate optimizer entries',
    text: with_({ optimizers: ['sgd', 'adam', { name: 'sgd', lr: 0.5 }] }),
    says: ['optimizers[2]', '"sgd"', 'optimizers[0]'],
  },
  { what: 'duplicate seeds', text: with_({ seeds: [1, 2, 1] }), says: ['seeds[2]', 'repeats', '1'] },
  { what: 'duplicate values on an axis', text: with_({ lr: [0.1, 0.2, 0.1] }), says: ['lr[2]', 'repeats', '0.1'] },
  {
    what: 'log-uniform with min 0',
    text: with_({ lr: { distribution: 'log-uniform', min: 0, max: 1 }, trials: 2 }),
    says: ['lr.min', '> 0', 'got 0'],
  },
  {
    what: 'weight decay log-uniform with min 0 (the range allows 0, the distribution does not)',
    text: with_({ weight_decay: { distribution: 'log-uniform', min: 0, max: 0.1 }, trials: 2 }),
    says: ['weight_decay.min', 'log-uniform', 'got 0'],
  },
  {
    what: 'min > max',
    text: with_({ lr: { distribution: 'uniform', min: 1, max: 0.5 }, trials: 2 }),
    says: ['lr.max', 'greater than min (1)', '0.5'],
  },
  {
    what: 'min = max',
    text: with_({ lr: { distribution: 'uniform', min: 0.1, max: 0.1 }, trials: 2 }),
    says: ['lr.max', 'greater than min (0.1)', '0.1'],
  },
  {
    what: 'a distribution without max',
    text: with_({ lr: { distribution: 'uniform', min: 0.1 }, trials: 2 }),
    says: ['lr.max', 'is required'],
  },
  {
    what: 'an unknown distribution',
    text: with_({ lr: { distribution: 'normal', min: 0.1, max: 1 }, trials: 2 }),
    says: ['lr.distribution', '"normal"', 'log-uniform, uniform'],
  },
  // Problem options the problem rejects.
  { what: 'quadratic dim 0', text: with_({ problem: { name: 'quadratic', dim: 0 } }), says: ['problem.dim', 'got 0'] },
  {
    what: 'rosenbrock dim 1',
    text: with_({ problem: { name: 'rosenbrock', dim: 1 } }),
    says: ['problem.dim', '2', 'got 1'],
  },
  {
    what: 'quadratic condition < 1',
    text: with_({ problem: { name: 'quadratic', condition: 0.5 } }),
    says: ['problem.condition', '0.5'],
  },
  {
    what: 'a start point with a string',
    text: with_({ problem: { name: 'anisotropic-bowl', start: [1, 'a'] } }),
    says: ['problem.start[1]', '"a"'],
  },
  // mnist-mlp's batch norm and dropout (issue 13).
  {
    what: 'dropout 1 (a net that drops everything)',
    text: with_({ problem: { name: 'mnist-mlp', dropout: 1 } }),
    says: ['problem.dropout', 'must be < 1', 'got 1'],
  },
  {
    what: 'a negative dropout',
    text: with_({ problem: { name: 'mnist-mlp', dropout: -0.2 } }),
    says: ['problem.dropout', 'must be >= 0', 'got -0.2'],
  },
  {
    what: 'dropout as a string',
    text: with_({ problem: { name: 'mnist-mlp', dropout: '0.2' } }),
    says: ['problem.dropout', 'must be a number', 'got "0.2"'],
  },
  {
    what: 'dropout on a net without hidden layers',
    text: with_({ problem: { name: 'mnist-mlp', hidden: [], dropout: 0.5 } }),
    says: ['problem.dropout', 'without hidden layers', 'got 0.5'],
  },
  {
    what: 'batch_norm as a string',
    text: with_({ problem: { name: 'mnist-mlp', batch_norm: 'yes' } }),
    says: ['problem.batch_norm', 'must be true or false', 'got "yes"'],
  },
  {
    what: 'batch_norm on a net without hidden layers',
    text: with_({ problem: { name: 'mnist-mlp', hidden: [], batch_norm: true } }),
    says: ['problem.batch_norm', 'without hidden layers', 'got true'],
  },
  {
    what: 'a precision the engine does not have',
    text: with_({ problem: { name: 'mnist-mlp', precision: 'float16' } }),
    says: ['problem.precision', 'float64, float32', '"float16"'],
  },
  {
    what: 'a misspelt batch_norm',
    text: with_({ problem: { name: 'mnist-mlp', batchnorm: true } }),
    says: ['problem.batchnorm', 'not a known key', 'did you mean "batch_norm"'],
  },
];

describe('the catalogue, through parseConfig', () => {
  it.each(CATALOGUE.map((c) => [c.what, c] as const))('%s', (_what, c) => {
    expectSays(message(c.text), c.says);
  });

  it('a grid larger than the limit: the message says how many runs and how to confirm', () => {
    // 2 optimizers × 2 lrs × 3 seeds = 12 runs.
    const text = with_({ seeds: [0, 1, 2] });
    const m = message(text, 11);
    expectSays(m, ['12 runs', 'limit of 11', '--max-runs 12']);
    expect(parseConfig(text, FILE, { maxRuns: 12 }).total).toBe(12);
  });

  it('a random search counts trials against the limit too', () => {
    const text = with_({ lr: { distribution: 'log-uniform', min: 0.001, max: 1 }, trials: 1000, seeds: [0, 1] });
    expectSays(message(text, 3999), ['4000 runs', '--max-runs 4000']);
  });

  it('every error is a UsageError (the CLI maps those to exit code 2)', () => {
    expect(failure(with_({ steps: 0 }))).toBeInstanceOf(UsageError);
  });
});

describe('messages name the value, whatever it is', () => {
  // JSON has no Infinity, but 1e999 parses to it (and JSON.stringify says "null").
  it('a non-finite lr (1e999) is refused, and the message names the value', () => {
    const m = message(
      '{"name":"bad","problem":{"name":"anisotropic-bowl"},"optimizers":["sgd"],"lr":1e999,"steps":10}',
    );
    expectSays(m, ['lr', /Infinity|1e999/]);
  });

  it('a non-finite lr (1e999) is refused, naming the field (the value aside)', () => {
    const m = message(
      '{"name":"bad","problem":{"name":"anisotropic-bowl"},"optimizers":["sgd"],"lr":1e999,"steps":10}',
    );
    expectSays(m, ['lr']);
    const inList = message(
      '{"name":"bad","problem":{"name":"anisotropic-bowl"},"optimizers":["sgd"],"lr":[0.1,1e999],"steps":10}',
    );
    expectSays(inList, ['lr[1]']);
    const inRange = message(
      '{"name":"bad","problem":{"name":"anisotropic-bowl"},"optimizers":["sgd"],"lr":{"distribution":"uniform","min":0.1,"max":1e999},"trials":2,"steps":10}',
    );
    expectSays(inRange, ['lr']);
  });

  it('a non-finite lr in a list: the message names the value', () => {
    const m = message(
      '{"name":"bad","problem":{"name":"anisotropic-bowl"},"optimizers":["sgd"],"lr":[0.1,1e999],"steps":10}',
    );
    expectSays(m, ['lr[1]', /Infinity|1e999/]);
  });

  // An optimizer entry with a misspelt key is an object: the key is the fault, not
  // "the entry is not an optimizer name".
  it("an unknown key in an optimizer's own values: named, with the closest valid one", () => {
    const m = message(with_({ optimizers: [{ name: 'sgd', lrr: 0.1 }] }));
    expectSays(m, ['optimizers[0].lrr', 'did you mean "lr"']);
  });

  it('a start point with one coordinate: the message says two are needed, not "must not be empty"', () => {
    const m = message(with_({ problem: { name: 'anisotropic-bowl', start: [1] } }));
    expectSays(m, ['problem.start', '[1]']);
    expect(m).not.toContain('must not be empty');
  });

  // The issue: "one line naming the file, the field and the value". This message names
  // the field but not the value the config gave it.
  it('an override of an axis the optimizer does not use names the value', () => {
    const m = message(with_({ optimizers: [{ name: 'sgd', momentum: 0.9 }] }));
    expectSays(m, ['optimizers[0].momentum', '0.9']);
  });

  // A problem's options are checked only once its name is known.
  it('a problem without a name (but with options) is told its name is missing', () => {
    const m = message(with_({ problem: { dim: 5 } }));
    expectSays(m, ['problem.name', 'is required']);
  });

  // An unknown key is quoted and escaped (the fuzz test found a typed "\name": a JSON
  // escape, line break + "ame").
  it('an unknown key with a line break in it still gives one line', () => {
    message('{"name": "bad", "problem": {"\\name": "quadratic"}, "optimizers": ["sgd"], "steps": 10}');
  });

  it('an unknown top-level key with a line break in it still gives one line', () => {
    message(JSON.stringify({ ...BASE, 'mome\ntum': 0.9 }));
  });
});

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sweep-bad-input-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('unreadable configs, through loadConfig', () => {
  it('a missing file', async () => {
    const path = join(tmp, 'nope.json');
    const e = await loadConfig(path).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toBe(`${path}: cannot read config: no such file`);
  });

  it('a directory', async () => {
    const dir = join(tmp, 'a-folder.json');
    mkdirSync(dir);
    const e = await loadConfig(dir).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toBe(`${dir}: cannot read config: is a directory`);
  });

  it('a file that loads names itself in a later error', async () => {
    const path = join(tmp, 'steps.json');
    writeFileSync(path, with_({ steps: 2.5 }));
    const e = await loadConfig(path).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toBe(`${path}: steps must be an integer, got 2.5`);
  });
});

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

/** Exit 2, one line on stderr, naming what it should, and nothing written. */
async function refused(args: string[], says: (string | RegExp)[], outDir: string): Promise<string> {
  const { code, stderr, stdout } = await cli(args);
  const lines = stderr.split('\n').filter((l) => l !== '');
  expect(lines, stderr).toHaveLength(1);
  expect(code, stderr).toBe(2);
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(stdout).toBe('');
  expect(lines[0].startsWith('sweep: ')).toBe(true);
  expectSays(lines[0], says);
  expect(existsSync(outDir) ? readdirSync(outDir) : [], 'nothing written').toEqual([]);
  return lines[0];
}

describe('through the CLI: exit 2, one line, nothing written', () => {
  let n = 0;
  /** A config file, and an output path in a folder of its own (not created in advance). */
  function setup(text: string | undefined): { config: string; outDir: string; out: string } {
    const dir = join(tmp, `cli-${n++}`);
    mkdirSync(dir);
    const config = join(dir, 'config.json');
    if (text !== undefined) writeFileSync(config, text);
    const outDir = join(dir, 'out');
    return { config, outDir, out: join(outDir, 'x.csv') };
  }

  it('a missing config', async () => {
    const { config, outDir, out } = setup(undefined);
    await refused([config, '--out', out], [config, 'no such file'], outDir);
  });

  it('a config that is a directory', async () => {
    const { outDir, out } = setup(undefined);
    const folder = join(tmp, 'folder-config');
    mkdirSync(folder);
    await refused([folder, '--out', out], [folder, 'is a directory'], outDir);
  });

  it('malformed JSON, with line and column', async () => {
    const { config, outDir, out } = setup('{\n  "name": "bad",\n  "steps": 10,,\n}');
    await refused([config, '--out', out], [config, 'is not valid JSON', 'line 3, column 15'], outDir);
  });

  it('a wrong type', async () => {
    const { config, outDir, out } = setup(with_({ steps: '30' }));
    await refused([config, '--out', out], [config, 'steps', '"30"'], outDir);
  });

  it('an unknown optimizer', async () => {
    const { config, outDir, out } = setup(with_({ optimizers: ['sgd', 'adamw'] }));
    await refused([config, '--out', out], [config, 'optimizers[1]', '"adamw"', OPTIMIZER_NAMES.join(', ')], outDir);
  });

  it('a non-finite learning rate', async () => {
    const { config, outDir, out } = setup(
      '{"name":"bad","problem":{"name":"anisotropic-bowl"},"optimizers":["sgd"],"lr":1e999,"steps":10}',
    );
    await refused([config, '--out', out], [config, 'lr'], outDir);
  });

  it('batch norm on a net without hidden layers', async () => {
    const { config, outDir, out } = setup(with_({ problem: { name: 'mnist-mlp', hidden: [], batch_norm: true } }));
    await refused([config, '--out', out], [config, 'problem.batch_norm', 'got true'], outDir);
  });

  it('a contradiction: momentum for sgd', async () => {
    const { config, outDir, out } = setup(with_({ optimizers: [{ name: 'sgd', momentum: 0.9 }] }));
    await refused([config, '--out', out], [config, 'optimizers[0].momentum'], outDir);
  });

  it('a grid larger than --max-runs, and the same grid confirmed', async () => {
    const text = with_({ seeds: [0, 1, 2] }); // 12 runs
    const { config, outDir, out } = setup(text);
    await refused([config, '--out', out, '--max-runs', '11'], [config, '12 runs', '--max-runs 12'], outDir);
    const ok = await cli([config, '--out', out, '--max-runs', '12']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(out)).toBe(true);
  });

  it('an output folder that cannot be written (a path under a regular file)', async () => {
    const { config } = setup(with_({}));
    const afile = join(tmp, 'afile');
    writeFileSync(afile, 'not a folder\n');
    const out = join(afile, 'out.csv');
    const line = await refused(
      [config, '--out', out],
      [out, `${afile} is a file, not a folder`],
      join(tmp, 'no-such-dir'),
    );
    expect(line).toMatch(/^sweep: --out /);
    expect(existsSync(`${out}.sweep.json`)).toBe(false);
  });
});
