/**
 * Paths that name the same file: `./a.csv` and `a.csv`, a symlink and its target,
 * two hard links. The files a sweep reads and writes (the config, the CSV, its
 * manifest, the curves, their locks) must be distinct, or one overwrites another.
 */
import { lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from './errors.js';

/** Links followed at most, as the kernel does (ELOOP beyond). */
const MAX_LINKS = 40;

/** Where a dangling symlink points (writing to it creates that file). */
function target(path: string): string {
  let p = resolve(path);
  for (let i = 0; i < MAX_LINKS; i++) {
    try {
      if (!lstatSync(p).isSymbolicLink()) return p;
      p = resolve(dirname(p), readlinkSync(p));
    } catch {
      return p;
    }
  }
  return p;
}

/** A file's identity: device and inode when it exists, else its real location (the
 * real path of its nearest existing folder, then the rest of the path). */
function identity(path: string): string {
  try {
    const { dev, ino } = statSync(path);
    return `inode ${dev}:${ino}`;
  } catch {
    // not there (yet): where it would be
  }
  const missing: string[] = [];
  for (let p = target(path); ; p = dirname(p)) {
    try {
      return `path ${join(realpathSync(p), ...missing.reverse())}`;
    } catch {
      if (dirname(p) === p) return `path ${resolve(path)}`;
      missing.push(basename(p));
    }
  }
}

export interface NamedFile {
  /** How the command line names it: `--out a.csv`, `the manifest of --out a.csv`. */
  readonly what: string;
  readonly path: string;
}

/** Refuses (UsageError) two of `files` that are one file. */
export function checkDistinct(files: readonly NamedFile[]): void {
  const seen = new Map<string, NamedFile>();
  for (const file of files) {
    const id = identity(file.path);
    const other = seen.get(id);
    if (other) throw new UsageError(`${file.what} is the same file as ${other.what}; give each its own file`);
    seen.set(id, file);
  }
}
