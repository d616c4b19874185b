/**
 * A results CSV read back as RunRecords, for the bench (the coordinator's `readSweep`
 * will do this for the CLI): the columns by name, as `layout` declares them.
 */
import { parse } from 'csv-parse/sync';
import type { Plan } from '../src/grid.js';
import type { RunRecord } from '../src/results.js';
import { layout } from '../src/sink.js';

const num = (cell: string): number => (cell === '' ? NaN : Number(cell));

export function recordsFromCsv(plan: Plan, text: string): RunRecord[] {
  const l = layout(plan);
  const rows: string[][] = parse(text, { from_line: 2 });
  const at = (name: string): number => l.header.indexOf(name);
  const [id, status, finalLoss, bestLoss, divergedAt, duration, error] = [
    'run_id',
    'status',
    'final_loss',
    'best_loss',
    'diverged_at',
    'duration_ms',
    'error',
  ].map(at);
  const metrics = l.metrics.map(at);
  return rows.map((r): RunRecord => {
    const base = {
      runId: Number(r[id]),
      bestLoss: num(r[bestLoss]),
      durationMs: num(r[duration]),
      metrics: Float64Array.from(metrics, (m) => num(r[m])),
    };
    if (r[status] === 'ok') return { ...base, status: 'ok', finalLoss: num(r[finalLoss]) };
    if (r[status] === 'diverged') return { ...base, status: 'diverged', divergedAt: Number(r[divergedAt]) };
    return { ...base, status: 'error', error: r[error] };
  });
}
