/**
 * Reading results back: CSV rows into records, the inverse of `RowEncoder`. The
 * resume path reads the rows already written through here, and so does
 * `readSweep`, which needs nothing but the CSV and its manifest.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { columnsOf, curveColumns, headerLine } from './csv.js';
import { UsageError } from './errors.js';
import type { Plan } from './grid.js';
import { manifestPath, manifestPlan, readManifest, type Manifest } from './manifest.js';
import {
  STATUSES,
  ResultsBuilder,
  records,
  type Curve,
  type ResultBatch,
  type RunRecord,
  type RunStatus,
} from './results.js';

/** The whole lines of `text` after `header` (a torn last line is dropped), or
 * undefined when even the header is torn. Throws when the header is another's. */
export function wholeLines(text: string, header: string, what: string): string | undefined {
  if (text.startsWith(header)) return text.slice(header.length, text.lastIndexOf('\n') + 1);
  if (header.startsWith(text)) return undefined; // killed while writing the header
  throw new UsageError(`${what}: its header is not this config's; the file was changed by hand`);
}

export function parseCsv(text: string, what: string): string[][] {
  try {
    return parse(text) as string[][];
  } catch (e) {
    throw new UsageError(`${what}: not a CSV this tool wrote (${(e as Error).message})`);
  }
}

/**
 * Rows of a results CSV (after its header) as records, in file order, as batches of
 * consecutive run ids; `what` names the file in messages. In run order (`ordered`,
 * every sweep without early stopping) the rows must be runs 0, 1, 2, …; otherwise
 * each run at most once.
 */
export function rowsToBatches(
  plan: Plan,
  rows: readonly (readonly string[])[],
  what: string,
  ordered = !plan.earlyStopping,
): ResultBatch[] {
  const columns = columnsOf(plan);
  const at = (name: string): number => columns.header.indexOf(name);
  const [id, status, finalLoss, bestLoss, divergedAt, prunedAt, duration, error] = [
    'run_id',
    'status',
    'final_loss',
    'best_loss',
    'diverged_at',
    'pruned_at',
    'duration_ms',
    'error',
  ].map(at);
  const metrics = columns.metrics.map(at);
  const ids = rows.map((row, i) => {
    const line = i + 2;
    if (row.length !== columns.header.length)
      throw new UsageError(`${what}: row ${line} has ${row.length} cells, the header ${columns.header.length}`);
    const runId = Number(row[id]);
    if (i >= plan.total)
      throw new UsageError(
        `${what}: row ${line} is one more than the sweep's ${plan.total} runs (run_id ${row[id]}); the file was changed by hand`,
      );
    if (ordered ? row[id] !== String(i) : !(Number.isInteger(runId) && runId >= 0 && runId < plan.total))
      throw new UsageError(
        `${what}: row ${line} has run_id ${row[id]}, expected ${ordered ? i : `one of 0 … ${plan.total - 1}`}; the file was changed by hand`,
      );
    return runId;
  });
  if (!ordered) {
    const seen = new Set<number>();
    ids.forEach((runId, i) => {
      if (seen.has(runId))
        throw new UsageError(`${what}: row ${i + 2} repeats run_id ${runId}; the file was changed by hand`);
      seen.add(runId);
    });
  }
  const batches: ResultBatch[] = [];
  const values = new Float64Array(metrics.length);
  for (let from = 0; from < rows.length;) {
    let to = from + 1;
    while (to < rows.length && ids[to] === ids[to - 1] + 1) to++;
    const b = new ResultsBuilder(ids[from], to - from, metrics.length);
    for (let i = from; i < to; i++) {
      const row = rows[i];
      const bad = (column: string, cell: string | undefined): UsageError =>
        new UsageError(`${what}: row ${i + 2}, column ${column}: ${JSON.stringify(cell)} is not what this tool writes`);
      const num = (k: number, name: string): number => {
        const cell = row[k];
        if (cell === '') return NaN;
        const v = Number(cell);
        if (!Number.isFinite(v) || cell.trim() !== cell) throw bad(name, cell);
        return v;
      };
      const s = row[status] as RunStatus;
      if (!(STATUSES as readonly string[]).includes(s)) throw bad('status', row[status]);
      metrics.forEach((k, m) => (values[m] = num(k, columns.metrics[m])));
      const stopped = s === 'pruned' ? prunedAt : divergedAt;
      const d = stopped < 0 || row[stopped] === '' ? -1 : num(stopped, columns.header[stopped]);
      b.addOutcome(
        s,
        num(finalLoss, 'final_loss'),
        num(bestLoss, 'best_loss'),
        d,
        num(duration, 'duration_ms'),
        values,
        row[error],
      );
    }
    batches.push(b.build());
    from = to;
  }
  return batches;
}

export interface WrittenSweep {
  readonly manifest: Manifest;
  readonly plan: Plan;
  /** Every run written, in run order. */
  readonly records: RunRecord[];
  /** Whether every run of the plan is there. */
  readonly complete: boolean;
}

/** A written sweep, finished or not, from its CSV and manifest alone. */
export async function readSweep(csv: string): Promise<WrittenSweep> {
  const manifest = await readManifest(csv, csv);
  if (!manifest) throw new UsageError(`${csv}: no manifest ${manifestPath(csv)} beside it; it is not a sweep's CSV`);
  const plan = await manifestPlan(manifest, csv);
  let text: string;
  try {
    text = await readFile(csv, 'utf8');
  } catch (e) {
    throw new UsageError(`${csv}: cannot read (${(e as NodeJS.ErrnoException).code})`);
  }
  const header = headerLine(columnsOf(plan));
  const lines = wholeLines(text, header, csv) ?? '';
  const list = rowsToBatches(plan, parseCsv(lines, csv), csv).flatMap((b) => [...records(b)]);
  return { manifest, plan, records: list, complete: manifest.complete && list.length === plan.total };
}

/** Each run's curve from a curves CSV, by run id. */
export async function readCurves(path: string, plan: Plan): Promise<Map<number, Curve>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new UsageError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code})`);
  }
  const width = curveColumns(plan).length;
  const rows = parseCsv(text, path).slice(1);
  const curves = new Map<number, Curve>();
  let from = 0;
  while (from < rows.length) {
    const id = rows[from][0];
    let to = from;
    while (to < rows.length && rows[to][0] === id) to++;
    const values = new Float64Array((to - from) * width);
    const step = new Int32Array(to - from);
    for (let p = from; p < to; p++) {
      step[p - from] = Number(rows[p][1]);
      for (let i = 0; i < width; i++)
        values[(p - from) * width + i] = rows[p][2 + i] === '' ? NaN : Number(rows[p][2 + i]);
    }
    curves.set(Number(id), { step, values });
    from = to;
  }
  return curves;
}
