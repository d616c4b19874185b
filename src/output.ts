/**
 * The CSV on disk, durable and resumable. Rows are appended in run order as they
 * arrive and synced to disk at least every SYNC_MS. Beside the CSV, `<csv>.sweep.json`
 * records which config wrote it (a fingerprint of the plan) and whether it is
 * complete; `--resume` checks it, cuts a torn last line, and appends the rest.
 * The record stays outside the CSV so that spreadsheets open the CSV as it is.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, readFile, rename, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parse } from 'csv-parse/sync';
import { UsageError } from './errors.js';
import type { Plan } from './grid.js';

/** Longest a finished row waits in the OS before it is forced to disk. */
const SYNC_MS = 1000;
const RECORD_FORMAT = 1;

export interface SweepRecord {
  format: number;
  /** sha256 of the plan: the same config gives the same fingerprint. */
  fingerprint: string;
  name: string;
  runs: number;
  complete: boolean;
}

export const recordPath = (csv: string): string => `${csv}.sweep.json`;

export function fingerprint(plan: Plan): string {
  return createHash('sha256').update(JSON.stringify(plan)).digest('hex');
}

async function writeRecord(csv: string, record: SweepRecord): Promise<void> {
  // Write-then-rename: the record is never seen half-written.
  const path = recordPath(csv);
  await writeFile(`${path}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}

export class CsvFile {
  private lastSync = Date.now();
  private dirty = false;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private readonly record: SweepRecord,
    /** Runs already in the file when it was opened (resume). */
    readonly done: number,
    /** Where the next write goes: the end of what is kept. */
    private position: number,
  ) {
    this.timer = setInterval(() => void this.sync(), SYNC_MS);
    this.timer.unref();
  }

  /** Creates the CSV and its record; refuses an existing file unless `force`. */
  static async create(path: string, plan: Plan, header: string, force: boolean): Promise<CsvFile> {
    await checkFolder(path);
    let handle: FileHandle;
    try {
      handle = await open(path, force ? 'w' : 'wx');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST')
        throw new UsageError(`--out ${path}: file exists; pass --resume to continue it or --force to overwrite it`);
      throw new UsageError(`--out ${path}: cannot create (${code})`);
    }
    const record = { format: RECORD_FORMAT, fingerprint: fingerprint(plan), name: plan.name, runs: plan.total, complete: false };
    await writeRecord(path, record);
    const file = new CsvFile(path, handle, record, 0, 0);
    await file.write(header);
    return file;
  }

  /** Reopens a CSV this config started, after cutting a torn last line. */
  static async resume(path: string, plan: Plan, header: string): Promise<CsvFile> {
    let record: SweepRecord;
    try {
      record = JSON.parse(await readFile(recordPath(path), 'utf8')) as SweepRecord;
    } catch {
      throw new UsageError(`--resume ${path}: no sweep record ${recordPath(path)} beside it, so it cannot be checked; start anew with --force`);
    }
    if (record.fingerprint !== fingerprint(plan))
      throw new UsageError(`--resume ${path}: it was written by a different config (${record.name}, ${record.runs} runs); use the same config, or --force to overwrite`);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      throw new UsageError(`--resume ${path}: cannot read (${(e as NodeJS.ErrnoException).code})`);
    }
    let kept: string;
    if (text.startsWith(header)) kept = text.slice(0, text.lastIndexOf('\n') + 1);
    else if (header.startsWith(text)) kept = ''; // killed while writing the header
    else throw new UsageError(`--resume ${path}: its header is not this config's; the file was changed by hand`);
    let rows: string[][];
    try {
      rows = parse(kept.slice(header.length)) as string[][];
    } catch (e) {
      throw new UsageError(`--resume ${path}: not a CSV this tool wrote (${(e as Error).message})`);
    }
    rows.forEach((r, i) => {
      if (Number(r[0]) !== i)
        throw new UsageError(`--resume ${path}: row ${i + 2} has run_id ${r[0]}, expected ${i}; the file was changed by hand`);
    });
    const keep = Buffer.byteLength(kept);
    const handle = await open(path, 'r+');
    await handle.truncate(keep);
    const file = new CsvFile(path, handle, { ...record, complete: false }, rows.length, keep);
    if (kept === '') await file.write(header);
    return file;
  }

  async write(text: string): Promise<void> {
    const { bytesWritten } = await this.handle.write(text, this.position, 'utf8');
    this.position += bytesWritten;
    this.dirty = true;
    if (Date.now() - this.lastSync >= SYNC_MS) await this.sync();
  }

  private async sync(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    this.lastSync = Date.now();
    await this.handle.datasync().catch(() => undefined);
  }

  /** Syncs and closes; marks the record complete when every run is in. */
  async close(complete: boolean): Promise<void> {
    clearInterval(this.timer);
    await this.sync();
    await this.handle.close();
    if (complete) await writeRecord(this.path, { ...this.record, complete: true });
  }
}

async function checkFolder(path: string): Promise<void> {
  const dir = dirname(path);
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (e) {
    throw new UsageError(`--out ${path}: cannot write to folder ${dir} (${(e as NodeJS.ErrnoException).code})`);
  }
}
