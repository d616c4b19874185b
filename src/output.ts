/**
 * The CSV on disk, durable and resumable, and the curves CSV beside it: both are
 * consumers of the record stream. Rows are appended in run order as they arrive and
 * synced to disk at least every SYNC_MS. Beside the CSV, its manifest
 * (manifest.ts) records which plan wrote it and whether it is complete; `--resume`
 * checks it, cuts a torn last line, reads the rows already there back into records,
 * and appends the rest.
 */
import { constants, existsSync, statSync, type Stats } from 'node:fs';
import { access, mkdir, open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { RowEncoder, RowWriter, columnsOf, curveHeaderLine, curveText, headerLine } from './csv.js';
import { OutputError, UsageError } from './errors.js';
import type { Plan } from './grid.js';
import {
  ENGINE_VERSION,
  manifestPath,
  manifestTempPath,
  newManifest,
  readManifest,
  samePlan,
  writeManifest,
  type Manifest,
} from './manifest.js';
import { parseCsv, rowsToBatches, wholeLines } from './read.js';
import { STATUS_CODE, records, type ResultBatch, type RunRecord } from './results.js';
import { PrefixDigest, verify, type Durable } from './integrity.js';
import { TakenError, lockPath } from './lock.js';
import { shellQuote } from './shell.js';
import type { Consumer } from './sweep.js';

/** Longest a finished row waits in the OS before it is forced to disk. */
const SYNC_MS = 1000;

const codeOf = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? String(e);

/** What a synced file reports after each sync: the digest of its durable prefix. */
export type OnSync = (durable: Durable) => Promise<void>;

/**
 * A file written front to back and synced to disk at least every SYNC_MS. A write
 * goes on until every byte is out (the kernel may take fewer than asked: a file-size
 * limit, a disk filling up) or fails; a failed sync fails the next write, or `close`.
 * With a digest, each sync reports the digest of what it made durable (`onSync`).
 */
class SyncedFile {
  private lastSync = Date.now();
  private dirty = false;
  private readonly timer: NodeJS.Timeout;
  /** A sync that failed in the background, thrown by the next write or `close`. */
  private failure: OutputError | undefined;
  /** Syncs run one at a time, in order. */
  private syncing: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    /** Where the next write goes: the end of what is kept. */
    private position: number,
    private readonly digest?: { readonly of: PrefixDigest; readonly onSync: OnSync },
  ) {
    this.timer = setInterval(() => void this.sync().catch(() => undefined), SYNC_MS);
    this.timer.unref();
  }

  async write(data: string | Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (let done = 0; done < bytes.length;) {
      let bytesWritten: number;
      try {
        ({ bytesWritten } = await this.handle.write(bytes, done, bytes.length - done, this.position));
      } catch (e) {
        throw new OutputError(`cannot write ${this.path} (${codeOf(e)})`);
      }
      // POSIX allows 0 only for a zero-length write; never spin on it.
      if (bytesWritten === 0) throw new OutputError(`cannot write ${this.path} (no bytes taken)`);
      done += bytesWritten;
      this.position += bytesWritten;
    }
    this.digest?.of.update(bytes);
    this.dirty = true;
    if (Date.now() - this.lastSync >= SYNC_MS) await this.sync();
  }

  private sync(): Promise<void> {
    this.syncing = this.syncing.then(() => this.syncNow());
    return this.syncing;
  }

  private async syncNow(): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.dirty) return;
    this.dirty = false;
    this.lastSync = Date.now();
    // What is written now (whole writes: the digest is taken after each) is what
    // this sync makes durable, at least.
    const durable = this.digest?.of.snapshot();
    try {
      await this.handle.datasync();
    } catch (e) {
      this.failure = new OutputError(`cannot sync ${this.path} to disk (${codeOf(e)})`);
      throw this.failure;
    }
    if (durable)
      await this.digest!.onSync(durable).catch((e: unknown) => {
        this.failure = e instanceof OutputError ? e : new OutputError(`${this.path}: ${String(e)}`);
        throw this.failure;
      });
  }

  /** Syncs and closes; throws if anything written is not on disk as written. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    try {
      await this.sync();
      const { size } = await this.handle.stat();
      if (size !== this.position)
        throw new OutputError(
          `${this.path} holds ${size} bytes, ${this.position} were written; it was changed meanwhile`,
        );
    } finally {
      await this.handle.close();
    }
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

/** Refuses a path that names a folder, or whose folder cannot be made or written. */
export async function checkOutputPath(path: string, flag: string): Promise<void> {
  if (path === '') throw new UsageError(`${flag} needs a file name, got ''`);
  if (/[\\/]$/.test(path) || (existsSync(path) && statSync(path).isDirectory()))
    throw new UsageError(`${flag} ${path}: is a folder; give a file name, e.g. ${join(path, 'sweep.csv')}`);
  const kind = existsSync(path) ? notRegular(statSync(path)) : undefined;
  if (kind)
    throw new UsageError(
      `${flag} ${path}: is ${kind}, not a regular file (it can be neither synced nor resumed); for standard output use --out -`,
    );
  // The files beside it: the manifest and its temporary, the lock, a rewrite.
  const long = [path, manifestTempPath(path), lockPath(path), retryPath(path)].find(
    (p) => Buffer.byteLength(basename(p)) > NAME_MAX,
  );
  if (long)
    throw new UsageError(
      `${flag} ${path}: the name is too long: the file ${basename(long).slice(0, 20)}… beside it would have more than ${NAME_MAX} bytes; give a shorter name`,
    );
  await checkFolder(path, flag);
}

/** Bytes a file name may have (Linux, macOS and most file systems). */
const NAME_MAX = 255;

function notRegular(stat: Stats): string | undefined {
  if (stat.isFile()) return undefined;
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isFIFO()) return 'a pipe';
  if (stat.isSocket()) return 'a socket';
  return 'not a file';
}

/** Refuses (UsageError) a file to resume that cannot be written, or whose folder
 * cannot take the files beside it: before anything is changed. */
async function checkWritable(path: string, what: string): Promise<void> {
  for (const [p, which] of [
    [path, 'it'],
    [dirname(path), 'its folder'],
  ] as const)
    try {
      await access(p, constants.W_OK);
    } catch (e) {
      throw new UsageError(`${what}: cannot write ${which} (${codeOf(e)}: read-only, or immutable?)`);
    }
}

async function create(path: string, force: boolean, flag: string): Promise<FileHandle> {
  await checkOutputPath(path, flag);
  try {
    return await open(path, force ? 'w' : 'wx');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      throw new TakenError(`${flag} ${path}: file exists; pass --resume to continue it or --force to overwrite it`);
    throw new UsageError(`${flag} ${path}: cannot create (${code})`);
  }
}

async function readForResume(path: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new UsageError(`--resume: ${flag} ${path}: cannot read (${(e as NodeJS.ErrnoException).code})`);
  }
}

/** Cuts the file to `kept` (header included) and reopens it for appending; a
 * digest, if given, takes the bytes kept. */
async function reopen(
  path: string,
  header: string,
  kept: string | undefined,
  digest?: ConstructorParameters<typeof SyncedFile>[3],
): Promise<SyncedFile> {
  const prefix = kept === undefined ? Buffer.alloc(0) : Buffer.from(header + kept, 'utf8');
  const handle = await open(path, 'r+');
  await handle.truncate(prefix.length);
  digest?.of.update(prefix);
  const file = new SyncedFile(path, handle, prefix.length, digest);
  return kept === undefined ? startedWith(file, header) : file;
}

/** Curve settings asked for on the command line. */
export interface RequestedCurves {
  readonly file: string;
  readonly every: number;
  /** Whether `every` was given (--curve-every), not a default. */
  readonly explicit: boolean;
}

/** What --resume found in a CSV, checked, before anything is changed. */
export interface ResumePoint {
  readonly path: string;
  readonly plan: Plan;
  readonly header: string;
  /** The whole rows after the header; undefined when even the header is torn. */
  readonly kept: string | undefined;
  /** Those rows as records, in file order. */
  readonly prior: readonly ResultBatch[];
  /** Rows after them (written after the last sync) that will be run again. */
  readonly dropped: number;
  /** The ids of the runs kept whose status is error, ascending. */
  readonly errored: readonly number[];
  /** The curve settings to go on with: those the manifest records. */
  readonly curves?: Manifest['curves'];
}

/** What --resume found in a curves file, checked. */
export interface CurvesPoint {
  readonly path: string;
  readonly header: string;
  readonly kept: string | undefined;
  /** No file yet: create it. */
  readonly fresh: boolean;
}

/**
 * The curve settings of a resumed sweep: the recorded ones, which the command line
 * must name (a sweep that records curves cannot go on without them, nor at another
 * resolution, nor start recording them after runs were done without).
 */
function resumedCurves(
  what: string,
  recorded: Manifest['curves'],
  requested: RequestedCurves | undefined,
  done: number,
): Manifest['curves'] {
  if (recorded && !requested)
    throw new UsageError(
      `${what}: the sweep records its curves in ${recorded.file} every ${recorded.every} steps; resume with --curves ${shellQuote(recorded.file)} --curve-every ${recorded.every}`,
    );
  if (!requested) return undefined;
  if (!recorded) {
    if (done > 0)
      throw new UsageError(
        `${what}: the sweep was started without --curves, and its ${done} runs done have none; resume without --curves, or start anew with --force`,
      );
    return { file: requested.file, every: requested.every };
  }
  if (requested.explicit && requested.every !== recorded.every)
    throw new UsageError(
      `${what}: --curve-every ${requested.every}, but the sweep records its curves every ${recorded.every} steps; resume with --curve-every ${recorded.every}`,
    );
  return { file: requested.file, every: recorded.every };
}

/** The results CSV and its manifest: the consumer that writes the rows. */
export class CsvFile implements Consumer {
  readonly wantsRows = true;
  private readonly rows: RowWriter;

  private constructor(
    private readonly file: SyncedFile,
    private readonly manifest: DurableManifest,
    plan: Plan,
    /** The records already in the file when it was opened (resume), in file order. */
    readonly prior: readonly ResultBatch[],
    /** Rewriting the CSV beside it (`resume` with retry). */
    private readonly merge?: RunOrderMerge,
  ) {
    this.rows = new RowWriter(plan, (bytes) =>
      merge ? merge.take(Buffer.from(bytes).toString('utf8')) : this.file.write(bytes),
    );
  }

  /** Runs already in the file when it was opened. */
  get done(): number {
    return this.prior.reduce((n, b) => n + b.count, 0);
  }

  /** Their ids, in file order. */
  get doneIds(): number[] {
    return this.prior.flatMap((b) => Array.from({ length: b.count }, (_, k) => b.first + k));
  }

  /** The CSV's path (not that of a rewrite in progress). */
  get path(): string {
    return this.merge ? this.file.path.slice(0, -RETRY_SUFFIX.length) : this.file.path;
  }

  /** Creates the CSV and its manifest; refuses an existing file unless `force`. */
  static async create(path: string, plan: Plan, force: boolean, curves?: Manifest['curves']): Promise<CsvFile> {
    const encoder = new RowEncoder(plan);
    const handle = await create(path, force, '--out');
    const manifest = new DurableManifest(path, newManifest(plan, encoder.columns.header, curves));
    try {
      await manifest.write();
    } catch (e) {
      // Without its manifest the CSV could be neither resumed nor overwritten safely.
      await handle.close();
      await rm(path, { force: true });
      throw e;
    }
    const file = await startedWith(new SyncedFile(path, handle, 0, manifest.tracking), headerLine(encoder.columns));
    return new CsvFile(file, manifest, plan, []);
  }

  /**
   * Checks a CSV this plan started, for `--resume`, changing nothing: its manifest,
   * its rows and the curve settings. Rows the manifest vouches for (synced, and the
   * same bytes since) are kept; later ones (written after the last sync, or a torn
   * last line) are to be run again. Undefined when there is nothing to resume
   * (neither the CSV nor its manifest exists: the sweep was stopped before it began).
   */
  static async inspect(path: string, plan: Plan, curves?: RequestedCurves): Promise<ResumePoint | undefined> {
    const what = `--resume ${path}`;
    const manifest = await readManifest(path, what);
    if (!manifest) {
      if (!existsSync(path)) return undefined;
      // Stopped between creating the CSV and writing its manifest: nothing in it yet.
      if (statSync(path).size === 0) {
        await rm(path);
        return undefined;
      }
      throw new UsageError(
        `${what}: its manifest ${manifestPath(path)} is missing, so the file cannot be checked; start anew with --force`,
      );
    }
    if (!existsSync(path))
      throw new UsageError(`${what}: the CSV is missing but its manifest is there; start anew with --force`);
    await checkWritable(path, what);
    if (!(await samePlan(manifest, plan, path)))
      throw new UsageError(
        `${what}: it was written by a different config (${manifest.name}, ${manifest.runs} runs); use the same config, or --force to overwrite`,
      );
    if (manifest.engine !== undefined && manifest.engine !== ENGINE_VERSION)
      throw new UsageError(
        `${what}: it was written by sweep ${manifest.engine}, this is ${ENGINE_VERSION}, whose rows may differ; finish it with sweep ${manifest.engine}, or start anew with --force`,
      );
    const header = headerLine(new RowEncoder(plan).columns);
    const { text, dropped } = await vouchedOrRetried(path, manifest, what);
    const kept = wholeLines(text, header, what);
    const prior = rowsToBatches(plan, kept ? parseCsv(kept, what) : [], what);
    const done = prior.reduce((n, b) => n + b.count, 0);
    const settings = resumedCurves(what, manifest.curves, curves, done);
    const errored = prior.flatMap((b) =>
      [...b.status.keys()].filter((k) => b.status[k] === STATUS_CODE.error).map((k) => b.first + k),
    );
    return { path, plan, header, kept, prior, dropped, errored, curves: settings };
  }

  /** Cuts the CSV to the rows `inspect` kept and reopens it to append the rest. With
   * `retry`, the errored runs are run again: the CSV is rewritten beside it, each
   * errored row replaced in place as its run is done again (see RunOrderMerge). */
  static async resume(point: ResumePoint, retry = false): Promise<CsvFile> {
    const { path, plan, header, kept, prior, curves } = point;
    const manifest = new DurableManifest(path, newManifest(plan, new RowEncoder(plan).columns.header, curves));
    if (retry && point.errored.length > 0) {
      // The manifest keeps vouching for the CSV as it is until the rewrite replaces it.
      const file = await startedWith(
        new SyncedFile(retryPath(path), await open(retryPath(path), 'w'), 0, manifest.unreported),
        header,
      );
      return new CsvFile(file, manifest, plan, prior, new RunOrderMerge(kept ?? '', (t) => file.write(t)));
    }
    const file = await reopen(path, header, kept, manifest.tracking);
    manifest.vouchForAll(); // the rows kept, read from the disk
    await manifest.write();
    return new CsvFile(file, manifest, plan, prior);
  }

  accept(batch: ResultBatch): void | Promise<void> {
    return this.rows.accept(batch);
  }

  /** Deletes the CSV and its manifest (after `close`): for a sweep that never began. */
  async remove(): Promise<void> {
    await rm(this.path, { force: true });
    await rm(manifestPath(this.path), { force: true });
  }

  /** Syncs and closes; marks the manifest complete when every run is in, and no
   * longer written. A rewrite (retry) is finished with the rows not done again, then
   * replaces the CSV: the manifest first, so that a rewrite cut short at the rename
   * is found by `inspect`. */
  async close(complete: boolean): Promise<void> {
    await this.merge?.finish();
    await this.file.close(); // throws, so that a short file is never marked complete
    // Everything written is on disk now (close synced it); the writer is gone.
    this.manifest.vouchForAll();
    await this.manifest.write(complete, true);
    if (this.merge) await rename(retryPath(this.path), this.path);
  }
}

/** A CSV's manifest, rewritten at every sync to vouch for what became durable. */
class DurableManifest {
  private readonly digest = new PrefixDigest();
  private durable: Durable | undefined;

  constructor(
    private readonly csv: string,
    private readonly manifest: Manifest,
  ) {}

  /** What the CSV's SyncedFile needs to report its syncs here. */
  get tracking(): { of: PrefixDigest; onSync: OnSync } {
    return {
      of: this.digest,
      onSync: (durable) => {
        this.durable = durable;
        return this.write();
      },
    };
  }

  /** Tracking for a rewrite of the CSV: digested, but its syncs not reported (the
   * manifest vouches for the CSV as it is until the rewrite replaces it). */
  get unreported(): { of: PrefixDigest; onSync: OnSync } {
    return { of: this.digest, onSync: () => Promise.resolve() };
  }

  /** Vouches for every byte the CSV has taken: once they are on disk (kept on
   * resume, or synced by `close`). */
  vouchForAll(): void {
    this.durable = this.digest.snapshot();
  }

  /** Writes the manifest, vouching for what the last sync (or `vouchForAll`) did;
   * `closed`: no longer naming its writer. */
  write(complete = false, closed = false): Promise<void> {
    const { writer, ...rest } = this.manifest;
    const manifest = { ...rest, ...(!closed && writer && { writer }) };
    return writeManifest(this.csv, { ...manifest, ...(this.durable && { durable: this.durable }), complete });
  }
}

const RETRY_SUFFIX = '.retry';
/** Where a file is rewritten by --retry-errors before it replaces the file. */
export const retryPath = (file: string): string => `${file}${RETRY_SUFFIX}`;

/** `vouchedFor` the CSV, or for its rewrite (--retry-errors) when that was cut short
 * between writing the manifest and replacing the CSV: then the rewrite is put in place. */
async function vouchedOrRetried(
  path: string,
  manifest: Manifest,
  what: string,
): Promise<{ text: string; dropped: number }> {
  const bytes = await readForResume(path, '--out');
  try {
    return vouchedFor(bytes, manifest, what);
  } catch (e) {
    const rewrite = retryPath(path);
    if (!(e instanceof UsageError) || !manifest.durable || !existsSync(rewrite)) throw e;
    const rewritten = await readFile(rewrite);
    let vouched;
    try {
      vouched = vouchedFor(rewritten, manifest, what);
    } catch {
      throw e;
    }
    if (vouched.text.length < manifest.durable.bytes) throw e;
    await rename(rewrite, path);
    return vouched;
  }
}

/**
 * Rewrites a file of lines in run order (the results CSV, the curves CSV: each line
 * starts with its run_id), its lines for some runs replaced by new ones: `take` gets
 * the new lines in run order and puts each at its run's place, the prior lines before
 * it going out first, those of the same run left out; `finish` writes the prior lines
 * not reached (of runs not done again, errored rows included).
 */
class RunOrderMerge {
  private readonly lines: string[];
  private readonly ids: number[];
  private at = 0;

  constructor(
    prior: string,
    private readonly write: (text: string) => Promise<void>,
  ) {
    this.lines = prior.split('\n').slice(0, -1);
    this.ids = this.lines.map(runIdOf);
  }

  async take(text: string): Promise<void> {
    let out = '';
    for (const line of text.split('\n').slice(0, -1)) {
      const id = runIdOf(line);
      for (; this.at < this.lines.length && this.ids[this.at] <= id; this.at++)
        if (this.ids[this.at] !== id) out += `${this.lines[this.at]}\n`;
      out += `${line}\n`;
    }
    if (out) await this.write(out);
  }

  async finish(): Promise<void> {
    const rest = this.lines.slice(this.at);
    this.at = this.lines.length;
    if (rest.length > 0) await this.write(`${rest.join('\n')}\n`);
  }
}

const runIdOf = (line: string): number => Number(line.slice(0, line.indexOf(',')));

/**
 * The part of a CSV's bytes that its manifest vouches for, as text, and how many
 * whole lines after it are not vouched for (written after the last sync): those are
 * run again. A manifest older than format 3 vouches for nothing and checks nothing:
 * the whole file is taken as it is. Throws, naming the first changed line, when the
 * vouched-for bytes changed.
 */
function vouchedFor(bytes: Buffer, manifest: Manifest, what: string): { text: string; dropped: number } {
  if (manifest.format < 3) return { text: bytes.toString('utf8'), dropped: 0 };
  const durable = manifest.durable ?? new PrefixDigest().snapshot();
  const { keep, dropped } = verify(bytes, durable, (where) => {
    const line = /^line (\d+)$/.exec(where);
    const row = line ? bytes.toString('utf8').split('\n')[Number(line[1]) - 1] : undefined;
    const which = line?.[1] === '1' ? ' (the header)' : row ? ` (run_id ${row.slice(0, row.indexOf(','))})` : '';
    return new UsageError(
      `${what}: ${where}${which} changed after it was written (edited by hand?); restore it, or start anew with --force`,
    );
  });
  // Not vouched for even the header: dropped with the rows, but it is not one.
  const header = keep === 0 && bytes.includes(0x0a) ? 1 : 0;
  return { text: bytes.subarray(0, keep).toString('utf8'), dropped: dropped - header };
}

/** The loss-curve CSV: rows in run order, never behind the results CSV (it takes
 * each batch before the CSV does). */
export class CurvesFile implements Consumer {
  private constructor(
    private readonly file: SyncedFile,
    /** Rewriting the file beside it (`resume` with retry), to replace `path`. */
    private readonly merge?: RunOrderMerge,
    private readonly path?: string,
  ) {}

  static async create(path: string, plan: Plan, force: boolean): Promise<CurvesFile> {
    return new CurvesFile(
      await startedWith(new SyncedFile(path, await create(path, force, '--curves'), 0), curveHeaderLine(plan)),
    );
  }

  /**
   * Checks the curves CSV beside a CSV to resume, changing nothing: it must hold the
   * curve of every run the CSV has (errored runs have none), in the CSV's order. Rows
   * of later runs (the curves file takes each batch before the CSV does) are to be cut.
   */
  static async inspect(path: string, plan: Plan, prior: readonly ResultBatch[]): Promise<CurvesPoint> {
    const what = `--resume --curves ${path}`;
    const written = new Set<number>();
    const needed: number[] = [];
    for (const b of prior)
      for (let k = 0; k < b.count; k++) {
        written.add(b.first + k);
        if (b.status[k] !== STATUS_CODE.error) needed.push(b.first + k);
      }
    const header = curveHeaderLine(plan);
    if (!existsSync(path)) {
      if (needed.length > 0)
        throw new UsageError(
          `${what}: the curves file is missing, but the CSV has ${needed.length} runs with curves; start anew with --force`,
        );
      return { path, header, kept: undefined, fresh: true };
    }
    await checkWritable(path, what);
    const lines = wholeLines((await readForResume(path, '--curves')).toString('utf8'), header, what);
    // Rows are in the CSV's order: keep those of runs the CSV has, noting which they are.
    const have = new Set<number>();
    let at = 0;
    while (lines && at < lines.length) {
      const id = Number(lines.slice(at, lines.indexOf(',', at)));
      if (!written.has(id)) break;
      have.add(id);
      at = lines.indexOf('\n', at) + 1;
    }
    const missing = needed.find((id) => !have.has(id));
    if (missing !== undefined)
      throw new UsageError(
        `${what}: the curves file is behind the CSV: run ${missing} has its row but no curve; start anew with --force`,
      );
    return { path, header, kept: lines?.slice(0, at), fresh: false };
  }

  /** Cuts the curves CSV to what `inspect` kept and reopens it (or creates it). With
   * `retry`, it is rewritten beside it, the curves of the runs done again put in
   * their places (as the CSV's rows: see CsvFile.resume). */
  static async resume(point: CurvesPoint, plan: Plan, retry = false): Promise<CurvesFile> {
    if (point.fresh) return CurvesFile.create(point.path, plan, false);
    if (!retry) return new CurvesFile(await reopen(point.path, point.header, point.kept));
    const rewrite = retryPath(point.path);
    const file = await startedWith(new SyncedFile(rewrite, await open(rewrite, 'w'), 0), point.header);
    return new CurvesFile(file, new RunOrderMerge(point.kept ?? '', (t) => file.write(t)), point.path);
  }

  async accept(batch: ResultBatch): Promise<void> {
    for (const text of curveText(batch)) await (this.merge ? this.merge.take(text) : this.file.write(text));
  }

  /** Syncs and closes; a rewrite is finished and replaces the file. */
  async close(): Promise<void> {
    await this.merge?.finish();
    await this.file.close();
    if (this.merge) await rename(this.file.path, this.path!);
  }
}

/** Early stopping's journal, `<csv>.rungs.csv`: every rung's records as they come
 * (the results CSV's columns; `steps` is the rung's), so that an interrupted sweep
 * resumes without doing a rung again. Removed when the sweep completes. */
export class JournalFile implements Consumer {
  readonly wantsRows = true;
  private readonly rows: RowWriter;

  private constructor(
    private readonly file: SyncedFile,
    plan: Plan,
    /** The rung records already journaled (resume), in journal order. */
    readonly prior: RunRecord[],
  ) {
    this.rows = new RowWriter(plan, (bytes) => this.file.write(bytes));
  }

  static path(csv: string): string {
    return `${csv}.rungs.csv`;
  }

  /** Creates the journal of `csv`, or reopens it to go on (`resume`). */
  static async open(csv: string, plan: Plan, resume: boolean): Promise<JournalFile> {
    const path = JournalFile.path(csv);
    const header = headerLine(columnsOf(plan));
    if (!resume || !existsSync(path)) {
      const file = await startedWith(new SyncedFile(path, await create(path, true, '--out'), 0), header);
      return new JournalFile(file, plan, []);
    }
    const what = `--resume ${csv}: its journal ${path}`;
    const kept = wholeLines((await readForResume(path, '--out')).toString('utf8'), header, what);
    const prior = rowsToBatches(plan, kept ? parseCsv(kept, what) : [], what, false).flatMap((b) => [...records(b)]);
    return new JournalFile(await reopen(path, header, kept), plan, prior);
  }

  accept(batch: ResultBatch): void | Promise<void> {
    return this.rows.accept(batch);
  }

  /** Closes; removes the journal once the sweep is complete (the CSV has it all). */
  async close(complete: boolean): Promise<void> {
    await this.file.close();
    if (complete) await rm(this.file.path, { force: true });
  }
}

async function checkFolder(path: string, flag: string): Promise<void> {
  const dir = dirname(path);
  // A file where a folder should be: mkdir says EEXIST or ENOTDIR, which tell little.
  for (let up = dir; ; up = dirname(up)) {
    if (existsSync(up)) {
      if (!statSync(up).isDirectory()) throw new UsageError(`${flag} ${path}: ${up} is a file, not a folder`);
      break;
    }
    if (dirname(up) === up) break;
  }
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (e) {
    throw new UsageError(`${flag} ${path}: cannot write to folder ${dir} (${codeOf(e)})`);
  }
}
