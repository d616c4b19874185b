/**
 * What crosses the executor boundary: a request for a batch of runs in, its records
 * out (a `ResultBatch`). Only plain, versioned data: the problem is named by its
 * descriptor (`plan.problem`, a name and options), never by its loaded data, which
 * each executor resolves on its own side (`resolveData`). A thread pool clones these
 * messages; a process or a queue sends them through `codec.ts` as JSON.
 */
import type { Plan } from './grid.js';
import { problemDef } from './problems/index.js';
import { MODULE, displayPath, isLoaded, loadModule, type ModuleOptions } from './problems/module.js';
import type { ResultBatch } from './results.js';

/** Bumped when a message's meaning changes: a worker refuses a request of another. */
export const PROTOCOL_VERSION = 1;

/** Runs `first … first + count − 1` of `plan`. */
export interface BatchRequest {
  readonly v: typeof PROTOCOL_VERSION;
  readonly plan: Plan;
  readonly first: number;
  readonly count: number;
  /** Updates each run makes: the plan's steps, or fewer for a rung of early stopping
   * (the run's record is then its state at that step). */
  readonly budget: number;
  /** Record each run's curve every this many steps; 0 for none. */
  readonly curveEvery: number;
  /** Encode the CSV rows where the runs run (`ResultBatch.rows`). */
  readonly encodeRows: boolean;
}

/** A batch's records, answering a request. */
export interface BatchReply {
  readonly v: typeof PROTOCOL_VERSION;
  readonly result: ResultBatch;
}

/** A run in progress, as an executor reports it. */
export interface LiveRun {
  readonly runId: number;
  readonly step: number;
  readonly loss: number;
}

/** What an executor is doing now. */
export interface Progress {
  readonly runs: readonly LiveRun[];
  /** Workers able to take batches (threads, or processes on a queue). */
  readonly workers: number;
}

export function request(
  plan: Plan,
  first: number,
  count: number,
  curveEvery: number,
  encodeRows: boolean,
  budget = plan.steps,
): BatchRequest {
  return { v: PROTOCOL_VERSION, plan, first, count, budget, curveEvery, encodeRows };
}

/** Throws unless `message` is of this protocol version. */
export function checkVersion(message: { v?: unknown }, what: string): void {
  if (message.v !== PROTOCOL_VERSION)
    throw new Error(`${what} of protocol version ${String(message.v)}; this engine speaks version ${PROTOCOL_VERSION}`);
}

/** Loads the code a problem descriptor names into this thread: a user's module
 * (`problem.module` in a config), imported once; nothing for a built-in problem.
 * `runBatch` is synchronous, so every executor's worker calls this before it, as
 * the coordinator did when it read the config. Undefined when there is nothing to
 * wait for (the hot path of tiny batches stays synchronous); rejects with a
 * `ModuleError` when the module cannot be imported here. */
export function loadProblemCode(problem: Plan['problem']): Promise<unknown> | undefined {
  if (problem.name !== MODULE) return undefined;
  const { module } = problem.options as ModuleOptions;
  return isLoaded(module) ? undefined : loadModule(module);
}

/** Why a worker could not load its problem's code, as the executor reports it: the
 * sweep cannot go on, since every batch would fail the same way. */
export function unloadable(problem: Plan['problem'], e: unknown): string {
  const { module } = problem.options as ModuleOptions;
  const why = e instanceof Error ? e.message : String(e);
  return `a worker cannot load the problem module ${displayPath(module)}: ${why}`;
}

/** Loads the data a problem descriptor names (`ProblemDef.load`), on this side of
 * the boundary; undefined for problems without data. */
export async function resolveData(problem: Plan['problem']): Promise<unknown> {
  const def = problemDef(problem);
  return def.load ? def.load(problem.options) : undefined;
}
