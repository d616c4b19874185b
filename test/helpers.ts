import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { DEFAULT_DIVERGENCE_FACTOR } from '../src/config/schema.js';
import { parse } from 'csv-parse/sync';
import { Arena } from '../src/arena.js';
import type { Plan, RunSpec } from '../src/grid.js';
import { defaultHyper, type OptimizerName } from '../src/optimizers/index.js';
import { PROBLEMS, type Problem } from '../src/problems/index.js';
import { rng } from '../src/rng.js';
import { maxMemoryNeeded, runOne, workspace, type RunResult } from '../src/run.js';
import { RowWriter, columnsOf, headerLine } from '../src/csv.js';
import type { Executor } from '../src/executor.js';
import { Tally, type OptimizerSummary } from '../src/report.js';
import { runSweep, type Consumer, type SweepOptions, type SweepOutcome } from '../src/sweep.js';

export function readCsv(path: string): Record<string, string>[] {
  return parse(readFileSync(path, 'utf8'), { columns: true });
}

export async function makeProblem(name: string, options: Record<string, unknown> = {}, seed = 0): Promise<Problem> {
  const def = PROBLEMS[name];
  const resolved = def.resolve(options);
  const data = def.load ? await def.load(resolved) : undefined;
  const arena = Arena.create(def.scratchBytes?.(resolved) ?? 0);
  return def.create(resolved, { seed, rng: (label) => rng(seed, label), data, arena });
}

export function spec(
  optimizer: OptimizerName,
  steps: number,
  overrides: Partial<RunSpec['hyper']> = {},
  weightDecay = 0,
): RunSpec {
  return {
    id: 0,
    optimizer,
    hyper: { ...defaultHyper(optimizer), ...overrides },
    weightDecay,
    axes: {},
    problem: {},
    problemValues: [],
    seed: 0,
    trial: 0,
    steps,
    divergenceFactor: DEFAULT_DIVERGENCE_FACTOR,
  };
}

/** Runs a spec in this thread, returning the result and the final parameters. */
export function runHere(s: RunSpec, problem: Problem): { result: RunResult; W: Float64Array } {
  const ws = workspace(new Float64Array(maxMemoryNeeded(problem.dim)), problem.dim, s.optimizer);
  const result = runOne(s, problem, ws);
  return { result, W: Float64Array.from(ws.W) };
}

export type { Plan };

/** What `collect` gives: the CSV (header first), the outcome and the printed summary's tally. */
export interface Collected {
  csv: string;
  outcome: SweepOutcome;
  summary: OptimizerSummary[];
}

/** Runs `plan` through the real coordinator on `executor`, collecting the CSV as the
 * CLI writes it and the tally it prints. */
export async function collect(
  plan: Plan,
  executor: Executor,
  options: Omit<SweepOptions, 'executor' | 'consumers'> = {},
  more: Consumer[] = [],
): Promise<Collected> {
  let csv = headerLine(columnsOf(plan));
  const tally = new Tally(plan);
  const outcome = await runSweep(plan, {
    executor,
    ...options,
    consumers: [new RowWriter(plan, (bytes) => void (csv += Buffer.from(bytes).toString('utf8'))), tally, ...more],
  });
  // As the CLI does: a complete sweep lets the executor drop what it keeps for it.
  if (!outcome.interrupted) executor.finished?.(plan);
  return { csv, outcome, summary: tally.optimizers };
}

/** What a child process left: its exit code (null if killed) and its output. */
export interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `file` with `args` to its end (in `cwd`, with `env`). */
export function execute(
  file: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Exited> {
  return new Promise((resolve) => {
    execFile(file, args, { ...options, maxBuffer: 64 * 2 ** 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs npm itself: the npm running the tests when there is one, else npm on the PATH. */
export function npm(args: readonly string[], cwd: string): Promise<Exited> {
  const cli = process.env.npm_execpath;
  return cli && /npm-cli\.js$/.test(cli)
    ? execute(process.execPath, [cli, ...args], { cwd })
    : execute('npm', args, { cwd });
}
