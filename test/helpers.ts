import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { Arena } from '../src/arena.js';
import type { Plan, RunSpec } from '../src/grid.js';
import { defaultHyper, type OptimizerName } from '../src/optimizers/index.js';
import { PROBLEMS, type Problem } from '../src/problems/index.js';
import { rng } from '../src/rng.js';
import { maxMemoryNeeded, runOne, workspace, type RunResult } from '../src/run.js';

/** ../shared/, beside the checkout (as CI lays it). */
export const SHARED = fileURLToPath(new URL('../../shared/', import.meta.url));

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
  };
}

/** Runs a spec in this thread, returning the result and the final parameters. */
export function runHere(s: RunSpec, problem: Problem): { result: RunResult; W: Float64Array } {
  const ws = workspace(new Float64Array(maxMemoryNeeded(problem.dim)), problem.dim, s.optimizer);
  const result = runOne(s, problem, ws);
  return { result, W: ws.W.slice() };
}

export type { Plan };
