/**
 * One writer per output file: `<file>.lock` beside it, created exclusively (O_EXCL),
 * holding the writer's pid, host, boot and process start time. A second sweep on the
 * same file finds the lock and is refused; a lock whose writer is gone (killed, the
 * machine rebooted, its pid since reused by another process) is stale and taken over.
 */
import { linkSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { OutputError, UsageError } from './errors.js';

export const lockPath = (file: string): string => `${file}.lock`;

/** The file is taken: another live process holds its lock, or (output.ts) it exists.
 * Bad input (exit 2), but one a caller choosing the name itself can avoid by
 * choosing another. */
export class TakenError extends UsageError {}

interface Holder {
  pid: number;
  host: string;
  /** Linux: /proc/sys/kernel/random/boot_id, changed by every boot. */
  boot?: string;
  /** Linux: the process's start time, in clock ticks since boot (/proc/<pid>/stat). */
  start?: string;
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat; the command name before it may hold spaces. */
function startTime(pid: number): string | undefined {
  const stat = readOr(`/proc/${pid}/stat`);
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

function me(): Holder {
  const boot = readOr('/proc/sys/kernel/random/boot_id');
  const start = startTime(process.pid);
  return { pid: process.pid, host: hostname(), ...(boot && { boot }), ...(start && { start }) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the process that wrote `holder` is certainly gone. A lock from another
 * host cannot be checked from here: it is never stale. */
function isStale(holder: Partial<Holder> | undefined): boolean {
  if (!holder || !Number.isInteger(holder.pid)) return true; // not a lock: its writer died writing it
  if (holder.host !== hostname()) return false;
  const boot = readOr('/proc/sys/kernel/random/boot_id');
  if (holder.boot && boot && holder.boot !== boot) return true;
  if (!alive(holder.pid!)) return true;
  const start = startTime(holder.pid!);
  return Boolean(holder.start && start && holder.start !== start);
}

function parse(text: string | undefined): Partial<Holder> | undefined {
  try {
    const v = JSON.parse(text ?? '') as unknown;
    return typeof v === 'object' && v !== null ? (v as Partial<Holder>) : undefined;
  } catch {
    return undefined;
  }
}

/** Tries to take a lock a few times (it may be released, or broken, meanwhile). */
const ATTEMPTS = 4;
/** Long enough for a lock's writer to write the few bytes after creating it. */
const WRITING_MS = 100;

/** Creates the lock file holding `text`; false if it exists. */
async function created(path: string, text: string, flag: string, file: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'wx');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    throw new UsageError(`${flag} ${file}: cannot create its lock ${path} (${code})`);
  }
  try {
    await handle.writeFile(text);
  } catch (e) {
    await handle.close();
    await unlink(path).catch(() => undefined);
    throw new OutputError(`${flag} ${file}: cannot write its lock ${path} (${(e as NodeJS.ErrnoException).code})`);
  }
  await handle.close();
  return true;
}

export class OutputLock {
  private released = false;
  private readonly onExit = (): void => this.release();

  private constructor(readonly path: string) {
    // A sweep stopped at once (a second signal) exits without unwinding.
    process.on('exit', this.onExit);
  }

  /** Takes the lock of `file`, named `flag` in messages; refuses (UsageError) while
   * another live process holds it. */
  static async take(file: string, flag: string): Promise<OutputLock> {
    const path = lockPath(file);
    const mine = `${JSON.stringify(me())}\n`;
    let holder: Partial<Holder> | undefined;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (await created(path, mine, flag, file)) return new OutputLock(path);
      const text = await readFile(path, 'utf8').catch(() => undefined);
      if (text === undefined) continue; // released meanwhile
      // Empty: being written this instant, or its writer died before writing it.
      if (text === '' && attempt === 0) {
        await new Promise((r) => setTimeout(r, WRITING_MS));
        continue;
      }
      holder = parse(text);
      if (!isStale(holder)) break;
      breakStale(path, text);
    }
    const who = holder?.pid ? `pid ${holder.pid}${holder.host !== hostname() ? ` on ${holder.host}` : ''}` : 'another';
    throw new TakenError(
      `${flag} ${file}: another sweep (${who}) is writing it; wait for it or stop it (lock ${path})`,
    );
  }

  /** Removes the lock file (once). */
  release(): void {
    if (this.released) return;
    this.released = true;
    process.off('exit', this.onExit);
    try {
      unlinkSync(this.path);
    } catch {
      // already gone: nothing to release
    }
  }
}

/**
 * Moves a stale lock (its text `seen`) out of the way. If what was moved is not that
 * lock after all (another process broke it and took the lock meanwhile), it goes back.
 */
function breakStale(path: string, seen: string): void {
  const aside = `${path}.stale-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch {
    return; // someone else moved it
  }
  if (readOr(aside) === seen.trim()) {
    unlinkSync(aside);
    return;
  }
  try {
    linkSync(aside, path); // put the live lock back, unless yet another took its place
  } catch {
    // the place is taken again: that lock stands
  }
  unlinkSync(aside);
}
