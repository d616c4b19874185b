/**
 * Writing a sweep's report files from its CSV and manifest: `<name>.summary.csv`
 * (the aggregates over seeds) and `<name>.html` (the report), beside the CSV unless
 * told otherwise. Every check comes before anything is written, and each file is
 * written whole (a temporary file, then a rename): bad input leaves no file behind.
 *
 * Curves: those of the curves file the manifest names, where it is there; the runs
 * the figures draw that it lacks (or all of them, for a sweep that kept none) are run
 * again here (runs are deterministic), so that a sweep of a million runs needs no
 * million curves.
 */
import { existsSync, statSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { aggregate, summaryCsv } from '../aggregate.js';
import { OutputError, UsageError } from '../errors.js';
import { stillRunning } from '../manifest.js';
import { readCurves, readSweep } from '../read.js';
import type { Curve } from '../results.js';
import { curveRuns } from './info.js';
import { renderReport } from './render.js';
import { runWithCurves } from './rerun.js';

/** Points per re-run curve (as the sweep's default resolution). */
const CURVE_POINTS = 100;

export interface Written {
  readonly html: string;
  readonly summary: string;
  readonly runs: number;
  readonly total: number;
  readonly complete: boolean;
  /** Runs re-run for their curves. */
  readonly rerun: number;
}

/** `results/x.csv` → `results/x<suffix>`. */
export const beside = (csv: string, suffix: string): string => `${csv.replace(/\.csv$/i, '')}${suffix}`;

async function writeWhole(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, text);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new OutputError(`${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

export async function writeReport(
  csv: string,
  options: {
    out?: string;
    summary?: string;
    /** Curves already in hand (the sweep's own, kept in memory), by run id. */
    curves?: ReadonlyMap<number, Curve>;
  } = {},
): Promise<Written> {
  if (!existsSync(csv)) throw new UsageError(`${csv}: no such file`);
  if (!statSync(csv).isFile()) throw new UsageError(`${csv}: not a file`);
  const { manifest, plan, records, complete } = await readSweep(csv);
  if (stillRunning(manifest))
    throw new UsageError(
      `${csv}: the sweep is still running (process ${manifest.writer!.pid}); report it when it ends`,
    );
  if (records.length > plan.total)
    throw new UsageError(
      `${csv}: ${records.length} runs, more than the sweep's ${plan.total}; the file was changed by hand`,
    );
  if (manifest.complete && !complete)
    throw new UsageError(
      `${csv}: ${records.length} of ${plan.total} runs, but its manifest says the sweep completed: the CSV was cut short or edited`,
    );
  const html = options.out ?? beside(csv, '.html');
  const summaryPath = options.summary ?? beside(csv, '.summary.csv');
  for (const path of [html, summaryPath])
    if (path === csv || path === `${csv}.sweep.json`) throw new UsageError(`${path}: would overwrite the sweep itself`);

  const summary = aggregate(plan, records);
  // The book's random-search figure draws accuracies, which a curves file does not
  // hold: those curves are all run again, with them.
  const accuracy = plan.problem.name === 'mnist-mlp' && plan.random;
  let curves = new Map<number, Curve>();
  if (!accuracy && manifest.curves && existsSync(manifest.curves.file))
    try {
      curves = await readCurves(manifest.curves.file, plan);
    } catch (e) {
      // A stopped sweep's curves file may end in a torn line: re-run what it lacks.
      if (complete || !(e instanceof UsageError)) throw e;
    }
  if (!accuracy) for (const [id, c] of options.curves ?? []) if (!curves.has(id)) curves.set(id, c);
  const written = new Set(records.map((r) => r.runId));
  const missing = curveRuns(plan, summary).filter((id) => written.has(id) && !curves.has(id));
  const every = manifest.curves?.every ?? Math.max(1, Math.round(plan.steps / CURVE_POINTS));
  const again = await runWithCurves(plan, missing, { every, accuracy });
  for (const [id, c] of again.curves) curves.set(id, c);

  const page = await renderReport({
    plan,
    records,
    curves,
    complete,
    title: plan.name,
    ...(accuracy && { curveColumns: again.curveColumns }),
  });
  await writeWhole(summaryPath, summaryCsv(plan, summary));
  await writeWhole(html, page);
  return { html, summary: summaryPath, runs: records.length, total: plan.total, complete, rerun: missing.length };
}
