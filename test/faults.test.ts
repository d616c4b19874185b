/**
 * Faults in a run, through the real coordinator and thread pool (runSweep +
 * PiscinaExecutor, in this process): a run that throws, a worker that exits, a
 * worker that runs out of heap, retries, and a worker file that cannot load.
 * The faults come from test/fixtures/faulty-worker.mjs (the real worker entry with
 * faults injected) and the `faulty` problem of test/fixtures/faulty-problem.mjs.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { ExecutorError } from '../src/executor.js';
import type { Plan } from '../src/grid.js';
import { createExecutor } from '../src/executors/index.js';
import { PROBLEMS } from '../src/problems/index.js';
import { runSweep } from '../src/sweep.js';
import { collect, type Collected } from './helpers.js';
import { FAULTY, faultyProblem } from './fixtures/faulty-problem.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FAULTY_WORKER = fileURLToPath(new URL('./fixtures/faulty-worker.mjs', import.meta.url));
const FLAKY_WORKER = fileURLToPath(new URL('./fixtures/flaky-start-worker.mjs', import.meta.url));
const BROKEN_WORKER = fileURLToPath(new URL('./fixtures/broken-worker.mjs', import.meta.url));
const WORKERS = 2;
/** Long enough for anything here on a loaded machine; only a hang reaches it. */
const HANG_MS = 30_000;
/** The same, where a hang is the known bug: a bowl sweep settles in well under a second. */
const HANG_SHORT_MS = 10_000;

/** What the fixture worker reads from the plan; see faulty-worker.mjs. */
interface Faults {
  exit?: number[];
  oom?: number[];
  times?: number;
  dir?: string;
}
interface FaultyOptions {
  throwSeeds?: number[];
  message?: string;
  raw?: boolean;
  times?: number;
  dir?: string;
}

const SEEDS = [0, 1, 2, 3];
/** 3 optimizers × 2 learning rates × 4 seeds = 24 runs; id = ((opt·2 + lr)·4 + seed). */
const CONFIG = JSON.stringify({
  name: 'faults',
  problem: { name: 'anisotropic-bowl' },
  optimizers: ['sgd', 'momentum', 'adam'],
  lr: [0.1, 0.5],
  seeds: SEEDS,
  steps: 30,
});

function faultyPlan(options: FaultyOptions = {}, faults?: Faults): Plan {
  const plan = parseConfig(CONFIG, 'faults.json');
  return { ...plan, problem: { name: FAULTY, options }, ...(faults ? { faults } : {}) } as Plan;
}

type Row = Record<string, string>;

type SweepSummary = Collected['outcome'] & { optimizers: Collected['summary'] };

interface Outcome {
  rows: Row[];
  summary: SweepSummary;
}

async function sweep(
  plan: Plan,
  options: { workerFile?: string; workerMemoryMb?: number; retries?: number; batchSize?: number } = {},
): Promise<Outcome> {
  const executor = createExecutor('piscina', {
    workers: WORKERS,
    workerFile: options.workerFile ?? FAULTY_WORKER,
    workerMemoryMb: options.workerMemoryMb,
  });
  try {
    await executor.ready();
    const { csv, outcome, summary } = await collect(plan, executor, {
      retries: options.retries,
      batchSize: options.batchSize,
    });
    return { rows: parse(csv, { columns: true }) as Row[], summary: { ...outcome, optimizers: summary } };
  } finally {
    await executor.close();
  }
}

/** A row as it must be in every sweep of the config: everything but the timing. */
const stable = ({ duration_ms: _duration, ...rest }: Row): Row => rest;

function seedOf(id: number): number {
  return SEEDS[id % SEEDS.length];
}

let reference: Row[];
let tmp: string;

beforeAll(async () => {
  // The coordinator (this process) needs the problem too: its dimension and columns.
  PROBLEMS[FAULTY] = faultyProblem;
  tmp = mkdtempSync(join(tmpdir(), 'sweep-faults-'));
  reference = (await sweep(faultyPlan())).rows;
});

afterAll(() => {
  delete PROBLEMS[FAULTY];
  rmSync(tmp, { recursive: true, force: true });
});

function freshDir(name: string): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  return dir;
}

function lines(file: string): number {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0;
}

function expectOthersAsReference(rows: Row[], faulted: (id: number) => boolean): void {
  expect(rows.map((r) => Number(r.run_id))).toEqual(reference.map((_, i) => i));
  for (const [i, r] of rows.entries()) {
    if (faulted(i)) continue;
    expect(stable(r), `run ${i}`).toEqual(stable(reference[i]));
  }
}

describe('the fault-free reference', () => {
  it('is all ok, 24 runs in run order (the faulty problem behaves as the bowl)', () => {
    expect(reference).toHaveLength(24);
    expect(reference.map((r) => Number(r.run_id))).toEqual([...Array(24).keys()]);
    expect(new Set(reference.map((r) => r.status))).toEqual(new Set(['ok']));
    expect(reference.every((r) => r.error === '')).toBe(true);
  });
});

describe('a run that throws', () => {
  it('is recorded as error with a short message; every other run is ok and as without the fault', async () => {
    const { rows, summary } = await sweep(faultyPlan({ throwSeeds: [2], message: 'injected fault at step 1' }));
    const faulted = (id: number) => seedOf(id) === 2;
    for (const r of rows.filter((_, i) => faulted(i))) {
      expect(r.status).toBe('error');
      expect(r.error).toBe('Error: injected fault at step 1');
      expect(r.final_loss).toBe('');
      expect(r.best_loss).toBe('');
    }
    expectOthersAsReference(rows, faulted);
    const errors = summary.optimizers.reduce((n, o) => n + o.error, 0);
    const ok = summary.optimizers.reduce((n, o) => n + o.ok, 0);
    expect(errors).toBe(6);
    expect(ok).toBe(18);
    expect(summary.interrupted).toBe(false);
    expect(summary.runs).toBe(24);
  });

  it('keeps a long, multi-line message to one short line', async () => {
    const message = `first line\nsecond\tline ${'x'.repeat(1000)}`;
    const { rows } = await sweep(faultyPlan({ throwSeeds: [0], message }));
    const r = rows[0];
    expect(r.status).toBe('error');
    expect(r.error.startsWith('Error: first line second line x')).toBe(true);
    expect(r.error).not.toMatch(/[\n\r\t]/);
    expect(r.error.length).toBeLessThanOrEqual(200);
    expect(r.error.length).toBeGreaterThan(0);
  });

  it('a thrown non-Error (a string) is recorded too', async () => {
    const { rows } = await sweep(faultyPlan({ throwSeeds: [1], message: 'plain string thrown', raw: true }));
    expect(rows[1].status).toBe('error');
    expect(rows[1].error).toBe('plain string thrown');
    expectOthersAsReference(rows, (id) => seedOf(id) === 1);
  });
});

describe('a worker that exits', () => {
  it('only the run that killed it is error ("worker died: …"); the rest are ok and as without the fault', async () => {
    // Batches of 4 runs: the batch that dies is re-run one run at a time. The first
    // two batches (runs 0–3 and 4–7) hold runs 1 and 6, so both threads die at the
    // start and must be replaced for the sweep to go on.
    const deaths = [1, 6, 23];
    const { rows, summary } = await sweep(faultyPlan({}, { exit: deaths }), { batchSize: 4 });
    for (const id of deaths) {
      expect(rows[id].status, `run ${id}`).toBe('error');
      expect(rows[id].error, `run ${id}`).toMatch(/^worker died: .*exit.*1/);
      expect(rows[id].error).not.toContain('\n');
    }
    expectOthersAsReference(rows, (id) => deaths.includes(id));
    expect(summary.optimizers.reduce((n, o) => n + o.error, 0)).toBe(deaths.length);
    expect(summary.runs).toBe(24);
  });

  it('with one run per batch too', async () => {
    const deaths = [0, 1, 2];
    const { rows } = await sweep(faultyPlan({}, { exit: deaths }), { batchSize: 1 });
    for (const id of deaths) expect(rows[id].status).toBe('error');
    expectOthersAsReference(rows, (id) => deaths.includes(id));
  });
});

describe('a worker that runs out of memory', () => {
  it('only that run is error; the pool replaces the worker and the rest are ok', async () => {
    const { rows } = await sweep(faultyPlan({}, { oom: [9] }), { workerMemoryMb: 64, batchSize: 3 });
    expect(rows[9].status).toBe('error');
    expect(rows[9].error).toMatch(/^worker died: .*memory/i);
    expectOthersAsReference(rows, (id) => id === 9);
  });
});

describe('retries', () => {
  it('a worker death on the first attempt only: retried, the run ends ok, the CSV is the reference', async () => {
    const dir = freshDir('exit-once');
    const { rows } = await sweep(faultyPlan({}, { exit: [5], times: 1, dir }), { retries: 2, batchSize: 1 });
    expect(lines(join(dir, 'exit-5'))).toBe(1);
    expectOthersAsReference(rows, () => false);
  });

  it('a throw on the first two attempts only: retries 2 is enough', async () => {
    const dir = freshDir('throw-twice');
    const { rows } = await sweep(faultyPlan({ throwSeeds: [3], times: 2, dir }), { retries: 2 });
    // Every run of seed 3 threw twice (the counter is per seed): 6 runs.
    expect(lines(join(dir, 'throw-3'))).toBe(2);
    expectOthersAsReference(rows, () => false);
  });

  it('a run that always throws is tried 1 + retries times, then recorded as error', async () => {
    const dir = freshDir('throw-always');
    const { rows } = await sweep(faultyPlan({ throwSeeds: [0], dir }), { retries: 2 });
    const faulted = (id: number) => seedOf(id) === 0;
    const runsOfSeed0 = rows.filter((_, i) => faulted(i)).length;
    expect(runsOfSeed0).toBe(6);
    expect(lines(join(dir, 'throw-0'))).toBe(3 * runsOfSeed0);
    for (const r of rows.filter((_, i) => faulted(i))) expect(r.status).toBe('error');
    expectOthersAsReference(rows, faulted);
  });

  it('a worker that always dies: 1 + retries attempts of the run on its own, then error', async () => {
    const dir = freshDir('exit-always');
    const { rows } = await sweep(faultyPlan({}, { exit: [12], dir }), { retries: 1, batchSize: 1 });
    expect(lines(join(dir, 'exit-12'))).toBe(2);
    expect(rows[12].status).toBe('error');
    expect(rows[12].error).toMatch(/^worker died: /);
    expectOthersAsReference(rows, (id) => id === 12);
  });

  it('without retries an errored run is not tried again', async () => {
    const dir = freshDir('no-retry');
    const { rows } = await sweep(faultyPlan({ throwSeeds: [1], dir }));
    expect(lines(join(dir, 'throw-1'))).toBe(6);
    expect(rows[1].status).toBe('error');
  });
});

/** Rejects if `promise` has not settled after HANG_MS: a hang fails the test clearly. */
function notHanging<T>(promise: Promise<T>, what: string, ms = HANG_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

describe('a worker file that cannot load', () => {
  it('makes ready() reject with ExecutorError naming the cause, without hanging', async () => {
    const executor = createExecutor('piscina', { workers: WORKERS, workerFile: BROKEN_WORKER });
    try {
      const error = await notHanging(
        executor.ready().then(
          () => undefined,
          (e: unknown) => e,
        ),
        'ready()',
      );
      expect(error).toBeInstanceOf(ExecutorError);
      expect((error as Error).message).toContain('no-such-module.mjs');
      expect((error as Error).message).not.toContain('\n');
    } finally {
      await notHanging(executor.close(), 'close()');
    }
  });
});

describe('worker threads that cannot be replaced', () => {
  // Piscina emits 'error' when a replacement thread cannot load, but the tasks
  // already submitted would wait for a thread forever: the executor must end them.
  it('after both threads die and no replacement can start, the sweep ends with ExecutorError, not a hang', async () => {
    const marker = join(tmp, 'refuse-start');
    process.env.SWEEP_TEST_REFUSE_START = marker;
    const executor = createExecutor('piscina', { workers: WORKERS, workerFile: FLAKY_WORKER });
    try {
      await executor.ready();
      writeFileSync(marker, '');
      const outcome = await notHanging(
        runSweep(faultyPlan({}, { exit: [0, 1] }), { executor, consumers: [], batchSize: 1 }).then(
          (summary) => ({ summary }),
          (error: unknown) => ({ error }),
        ),
        'runSweep',
        HANG_SHORT_MS,
      );
      expect(outcome).toHaveProperty('error');
      expect((outcome as { error: unknown }).error).toBeInstanceOf(ExecutorError);
    } finally {
      delete process.env.SWEEP_TEST_REFUSE_START;
      rmSync(marker, { force: true });
      await notHanging(executor.close(), 'close()');
    }
  });
});

describe('the CLI with a worker file that cannot load', () => {
  let pkg: string;

  beforeAll(() => {
    // A copy of the built package whose worker entry cannot load: the CLI finds its
    // worker beside itself (ROOT is the folder holding package.json).
    pkg = join(tmp, 'pkg');
    mkdirSync(pkg);
    cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'), 'dir');
    for (const dir of ['src', 'workers']) cpSync(join(ROOT, 'dist', dir), join(pkg, 'dist', dir), { recursive: true });
    writeFileSync(
      join(pkg, 'dist', 'workers', 'sweep-worker.js'),
      "import './no-such-module.js';\nexport default () => 0;\n",
    );
    writeFileSync(join(pkg, 'config.json'), CONFIG);
  });

  it('exits 1 with one line naming the cause, no stack, no hang', async () => {
    const { code, stderr } = await notHanging(
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [
            join(pkg, 'dist', 'src', 'cli.js'),
            join(pkg, 'config.json'),
            '--out',
            join(pkg, 'out.csv'),
            '--workers',
            '2',
          ],
          { cwd: pkg },
          (error, _stdout, stderr) => resolve({ code: error ? (error.code as number | null) : 0, stderr }),
        );
      }),
      'the CLI',
    );
    expect(code).toBe(1);
    const errLines = stderr.split('\n').filter(Boolean);
    expect(errLines).toHaveLength(1);
    expect(errLines[0]).toMatch(/^sweep: worker threads cannot start: .*no-such-module\.js/);
    expect(stderr).not.toMatch(/^\s+at /m);
  });
});
