/**
 * A sweep's files and its run, as the CLI and the library both drive them: the
 * results CSV (new, or resumed), the curves CSV beside it, the early-stopping journal;
 * then the plan run into them, with or without early stopping, continuing what a
 * resumed file already holds; then the files closed, complete or resumable. What
 * differs between the two callers (signals, a progress line, the printed summary, a
 * loop over records) stays with them, as consumers and options.
 */
import { runEarlyStopping } from './early.js';
import type { Plan } from './grid.js';
import { checkDistinct, type NamedFile } from './aliases.js';
import { OutputLock, lockPath } from './lock.js';
import { manifestPath, manifestTempPath } from './manifest.js';
import { CsvFile, CurvesFile, JournalFile, checkOutputPath, retryPath } from './output.js';
import { UsageError } from './errors.js';
import { rangesOf, runSweep, type Consumer, type SweepOptions } from './sweep.js';

/** Points per loss curve by default. */
const CURVE_POINTS = 100;

/** Steps between curve points by default: about CURVE_POINTS points a run. */
export const defaultCurveEvery = (plan: Plan): number => Math.max(1, Math.round(plan.steps / CURVE_POINTS));

export interface OutputSettings {
  /** The config's file, if it came from one: no output may be it. */
  config?: string;
  /** The results CSV; undefined for none (the caller takes the records itself). */
  out?: string;
  /** The curves CSV. */
  curves?: string;
  /** Steps between curve points (with `curves`). */
  curveEvery: number;
  /** Whether `curveEvery` was asked for (else a default, and a resumed sweep keeps its own). */
  curveEveryGiven?: boolean;
  /** Continue the sweep `out` holds; start it when there is none yet. */
  resume: boolean;
  /** With `resume`: run the runs whose status is error again, rows replaced in place. */
  retryErrors?: boolean;
  /** Overwrite `out` (and `curves`) if they exist. */
  force: boolean;
}

export interface Outputs {
  file?: CsvFile;
  curves?: CurvesFile;
  journal?: JournalFile;
  /** Runs already written (resume). */
  from: number;
  /** Whether `resume` found a sweep to continue. */
  resumed: boolean;
  /** Steps between curve points: a resumed sweep's own. */
  curveEvery: number;
  /** Rows found after the last sync (not vouched for), cut to be run again. */
  dropped: number;
  /** Runs already in the file, status error, to run again first (`retryErrors`). */
  redo: readonly number[];
  /** One writer per file: released when the files are closed. */
  locks: readonly OutputLock[];
}

/** Every file a sweep reads or writes, as the command line names it. */
function filesOf(s: OutputSettings): NamedFile[] {
  const files: NamedFile[] = s.config === undefined ? [] : [{ what: `the config ${s.config}`, path: s.config }];
  const written = (flag: string, path: string): void =>
    void files.push(
      { what: `${flag} ${path}`, path },
      { what: `the lock of ${flag} ${path}`, path: lockPath(path) },
      { what: `the rewrite of ${flag} ${path} (--retry-errors)`, path: retryPath(path) },
    );
  if (s.out !== undefined) {
    written('--out', s.out);
    files.push(
      { what: `the manifest of --out ${s.out}`, path: manifestPath(s.out) },
      { what: `the manifest's temporary file of --out ${s.out}`, path: manifestTempPath(s.out) },
      { what: `the journal of --out ${s.out}`, path: JournalFile.path(s.out) },
    );
  }
  if (s.curves !== undefined) written('--curves', s.curves);
  return files;
}

/** Locks the results CSV and the curves CSV (one writer per file), then opens them
 * and the journal, or none: a file this call created is removed again if another
 * cannot be opened. Any two of the files (and the config) that are one file are
 * refused first. Resuming a sweep that never
 * began (no CSV, no manifest) starts it. */
export async function openOutputs(plan: Plan, s: OutputSettings): Promise<Outputs> {
  checkDistinct(filesOf(s));
  const locks: OutputLock[] = [];
  try {
    for (const [path, flag] of [
      [s.out, '--out'],
      [s.curves, '--curves'],
    ] as const) {
      if (path === undefined) continue;
      await checkOutputPath(path, flag);
      locks.push(await OutputLock.take(path, flag));
    }
    return { ...(await openLocked(plan, s)), locks };
  } catch (e) {
    for (const lock of locks) lock.release();
    throw e;
  }
}

async function openLocked(plan: Plan, s: OutputSettings): Promise<Omit<Outputs, 'locks'>> {
  const requested = s.curves ? { file: s.curves, every: s.curveEvery, explicit: s.curveEveryGiven ?? true } : undefined;
  // Everything is checked before anything is changed.
  const point = s.out === undefined || !s.resume ? undefined : await CsvFile.inspect(s.out, plan, requested);
  const curvesPoint = point && s.curves ? await CurvesFile.inspect(s.curves, plan, point.prior) : undefined;
  const settings = point ? point.curves : requested && { file: requested.file, every: requested.every };
  if (s.retryErrors && plan.earlyStopping)
    throw new UsageError('--retry-errors: not for a sweep with early stopping (its rows go rung by rung)');
  const redo = s.retryErrors ? (point?.errored ?? []) : [];
  let file: CsvFile | undefined;
  if (point) file = await CsvFile.resume(point, redo.length > 0);
  else if (s.out !== undefined) file = await CsvFile.create(s.out, plan, s.force, settings);
  const from = file?.done ?? 0;
  const resumed = point !== undefined;
  try {
    const curves = !settings
      ? undefined
      : curvesPoint
        ? await CurvesFile.resume(curvesPoint, plan, redo.length > 0)
        : await CurvesFile.create(settings.file, plan, s.force);
    try {
      const journal = plan.earlyStopping && file ? await JournalFile.open(file.path, plan, resumed) : undefined;
      const curveEvery = settings?.every ?? s.curveEvery;
      return { file, curves, journal, from, resumed, curveEvery, dropped: point?.dropped ?? 0, redo };
    } catch (e) {
      await curves?.close();
      throw e;
    }
  } catch (e) {
    await file?.close(false);
    if (file && !resumed) await file.remove();
    throw e;
  }
}

/**
 * Syncs and closes every file: the curves file, then the CSV, marking it complete
 * only if every byte of both is on disk, then the journal (removed once the CSV is
 * complete). A failure to close is thrown when `report` (not when the sweep already
 * failed: its error is the one to report).
 */
export async function closeOutputs(o: Outputs, complete: boolean, report = true): Promise<void> {
  let failure: unknown;
  const close = async (what: ((ok: boolean) => Promise<void>) | undefined): Promise<void> => {
    try {
      await what?.(complete && failure === undefined);
    } catch (e) {
      failure ??= e;
    }
  };
  const { file, curves, journal } = o;
  await close(curves && (() => curves.close()));
  await close(file && ((ok) => file.close(ok)));
  await close(journal && ((ok) => journal.close(ok)));
  for (const lock of o.locks) lock.release();
  if (failure !== undefined && report) throw failure;
}

export interface PlanOutcome {
  /** Runs given to the consumers by this call (not those already in a resumed file). */
  runs: number;
  /** Whether the sweep stopped early (signal) with runs left to do. */
  interrupted: boolean;
  seconds: number;
}

/**
 * Runs the plan into `outputs` (curves first, then the CSV) and then `consumers`,
 * with or without early stopping as the plan says, from where `outputs` resumed.
 */
export function runPlan(
  plan: Plan,
  outputs: Outputs,
  options: Omit<SweepOptions, 'consumers' | 'from' | 'runs' | 'budget'> & {
    consumers: readonly Consumer[];
    /** Record curves even without a curves file (a consumer keeps them). */
    keepCurves?: boolean;
  },
): Promise<PlanOutcome> {
  const { file, curves, journal } = outputs;
  const { keepCurves, ...rest } = options;
  const common = {
    ...rest,
    curveEvery: curves || keepCurves ? options.curveEvery : 0,
    consumers: [...(curves ? [curves] : []), ...(file ? [file] : []), ...options.consumers],
  };
  return plan.earlyStopping
    ? runEarlyStopping(plan, {
        ...common,
        // Without a file there is no journal: nothing to resume.
        journal: journal ?? { accept: () => undefined },
        journaled: journal?.prior,
        written: file?.doneIds,
      })
    : runSweep(plan, {
        ...common,
        // Errored runs done again first (in run order, as their rows are rewritten), then the rest.
        runs: [...rangesOf(outputs.redo), { first: outputs.from, count: plan.total - outputs.from }],
      });
}
