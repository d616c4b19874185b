/**
 * The CSV on disk, durable and resumable. Rows are appended in run order as they
 * arrive and synced to disk at least every SYNC_MS. Beside the CSV, `<csv>.sweep.json`
 * records which config wrote it (a fingerprint of the plan) and whether it is
 * complete; `--resume` checks it, cuts a torn last line, and appends the rest.
 * The record stays outside the CSV so that spreadsheets open the CSV as it is.
 */
import { createHash } from 'node:crypto';
import { constants, existsSync, statSync } from 'node:fs';
import { access, mkdir, open, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { OutputError, UsageError } from './errors.js';
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

/** A file written front to back and synced to disk at least every SYNC_MS. */
class SyncedFile {
  private lastSync = Date.now();
  private dirty = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    /** Where the next write goes: the end of what is kept. */
    private position: number,
  ) {
    this.timer = setInterval(() => void this.sync(), SYNC_MS);
    this.timer.unref();
  }

  async write(text: string): Promise<void> {
    let bytesWritten: number;
    try {
      ({ bytesWritten } = await this.handle.write(text, this.position, 'utf8'));
    } catch (e) {
      throw new OutputError(`cannot write ${this.path} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
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

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.sync();
    await this.handle.close();
  }
}

/** Writes the header, closing the file again if even that fails. */
async function startedWith(file: SyncedFile, header: string): Promise<SyncedFile> {
  try {
    await file.write(header);
  } catch (e) {
    await file.close().catch(() => undefined);
    throw e;
  }
  return file;
}

async function create(path: string, force: boolean, flag: string): Promise<FileHandle> {
  if (/[\\/]$/.test(path) || (existsSync(path) && statSync(path).isDirectory()))
    throw new UsageError(`${flag} ${path}: is a folder; give a file name, e.g. ${join(path, 'sweep.csv')}`);
  await checkFolder(path, flag);
  try {
    return await open(path, force ? 'w' : 'wx');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      throw new UsageError(`${flag} ${path}: file exists; pass --resume to continue it or --force to overwrite it`);
    throw new UsageError(`${flag} ${path}: cannot create (${code})`);
  }
}

async function readForResume(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new UsageError(`--resume: ${flag} ${path}: cannot read (${(e as NodeJS.ErrnoException).code})`);
  }
}

/** The whole lines of `text` after `header` (a torn last line is dropped), or
 * undefined when even the header is torn. Throws when the header is another's. */
function wholeLines(text: string, header: string, what: string): string | undefined {
  if (text.startsWith(header)) return text.slice(header.length, text.lastIndexOf('\n') + 1);
  if (header.startsWith(text)) return undefined; // killed while writing the header
  throw new UsageError(`--resume ${what}: its header is not this config's; the file was changed by hand`);
}

/** Cuts the file to `kept` (header included) and reopens it for appending. */
async function reopen(path: string, header: string, kept: string | undefined): Promise<SyncedFile> {
  const bytes = kept === undefined ? 0 : Buffer.byteLength(header + kept);
  const handle = await open(path, 'r+');
  await handle.truncate(bytes);
  const file = new SyncedFile(path, handle, bytes);
  return kept === undefined ? startedWith(file, header) : file;
}

/** The results CSV and its sweep record. */
export class CsvFile {
  private constructor(
    private readonly file: SyncedFile,
    private readonly record: SweepRecord,
    /** The rows already in the file when it was opened (resume), as parsed. */
    readonly rows: readonly (readonly string[])[],
  ) {}

  /** Runs already in the file when it was opened. */
  get done(): number {
    return this.rows.length;
  }

  get path(): string {
    return this.file.path;
  }

  /** Creates the CSV and its record; refuses an existing file unless `force`. */
  static async create(path: string, plan: Plan, header: string, force: boolean): Promise<CsvFile> {
    const handle = await create(path, force, '--out');
    const record = {
      format: RECORD_FORMAT,
      fingerprint: fingerprint(plan),
      name: plan.name,
      runs: plan.total,
      complete: false,
    };
    await writeRecord(path, record);
    return new CsvFile(await startedWith(new SyncedFile(path, handle, 0), header), record, []);
  }

  /** Reopens a CSV this config started, after cutting a torn last line. */
  static async resume(path: string, plan: Plan, header: string): Promise<CsvFile> {
    let record: SweepRecord;
    try {
      record = JSON.parse(await readFile(recordPath(path), 'utf8')) as SweepRecord;
    } catch {
      throw new UsageError(
        `--resume ${path}: no sweep record ${recordPath(path)} beside it, so it cannot be checked; start anew with --force`,
      );
    }
    if (record.fingerprint !== fingerprint(plan))
      throw new UsageError(
        `--resume ${path}: it was written by a different config (${record.name}, ${record.runs} runs); use the same config, or --force to overwrite`,
      );
    const kept = wholeLines(await readForResume(path, '--out'), header, path);
    let rows: string[][] = [];
    try {
      if (kept) rows = parse(kept) as string[][];
    } catch (e) {
      throw new UsageError(`--resume ${path}: not a CSV this tool wrote (${(e as Error).message})`);
    }
    rows.forEach((r, i) => {
      if (Number(r[0]) !== i)
        throw new UsageError(
          `--resume ${path}: row ${i + 2} has run_id ${r[0]}, expected ${i}; the file was changed by hand`,
        );
    });
    return new CsvFile(await reopen(path, header, kept), { ...record, complete: false }, rows);
  }

  write(text: string): Promise<void> {
    return this.file.write(text);
  }

  /** Deletes the CSV and its record (after `close`): for a sweep that never began. */
  async remove(): Promise<void> {
    await rm(this.path, { force: true });
    await rm(recordPath(this.path), { force: true });
  }

  /** Syncs and closes; marks the record complete when every run is in. */
  async close(complete: boolean): Promise<void> {
    await this.file.close();
    if (complete) await writeRecord(this.path, { ...this.record, complete: true });
  }
}

/** Creates the loss-curve CSV (rows in run order, never behind the results CSV). */
export async function createCurves(path: string, header: string, force: boolean): Promise<SyncedFile> {
  return startedWith(new SyncedFile(path, await create(path, force, '--curves'), 0), header);
}

/** Reopens the loss-curve CSV, keeping the rows of runs before `from` (those the
 * results CSV has). */
export async function resumeCurves(path: string, header: string, from: number): Promise<SyncedFile> {
  if (!existsSync(path)) return createCurves(path, header, false);
  const lines = wholeLines(await readForResume(path, '--curves'), header, path);
  let kept = lines;
  if (lines) {
    // Rows are in run order: cut at the first row of a run not in the results.
    let at = 0;
    while (at < lines.length && Number(lines.slice(at, lines.indexOf(',', at))) < from)
      at = lines.indexOf('\n', at) + 1;
    kept = lines.slice(0, at);
  }
  return reopen(path, header, kept);
}

export type { SyncedFile };

async function checkFolder(path: string, flag: string): Promise<void> {
  const dir = dirname(path);
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (e) {
    throw new UsageError(`${flag} ${path}: cannot write to folder ${dir} (${(e as NodeJS.ErrnoException).code})`);
  }
}
