/**
 * Issue 8, finding 3: paths that alias each other. The config, the CSV, its manifest,
 * the curves and their locks are compared as files (real paths, device and inode),
 * not as strings: any two that are one file are refused with one line, exit 2, and
 * nothing is written or changed.
 */
import {
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneLine, run } from './child.js';

const CONFIG = { name: 'alias', problem: { name: 'anisotropic-bowl' }, optimizers: ['sgd', 'adam'], steps: 10 };

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sweep-alias-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A folder holding config.json (and `files`), the sweep's working directory. */
function folder(files: Record<string, string> = {}): string {
  const dir = join(tmp, `case-${n++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(CONFIG));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Every file under `dir` with its content (a symlink: where it points). */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .sort()
      .map((f) => {
        const path = join(dir, f);
        return [f, lstatSync(path).isSymbolicLink() ? `-> ${readlinkSync(path)}` : readFileSync(path, 'utf8')];
      }),
  );
}

interface Case {
  why: string;
  /** Prepares the folder; gives the arguments after the config. */
  args: (dir: string) => string[];
  says: string[];
}

const CASES: Case[] = [
  {
    why: '--curves ./a.csv with --out a.csv',
    args: () => ['--out', 'a.csv', '--curves', './a.csv'],
    says: ['--curves ./a.csv', '--out a.csv'],
  },
  {
    why: '--curves <the CSV>.sweep.json: the manifest',
    args: () => ['--out', 'x.csv', '--curves', 'x.csv.sweep.json'],
    says: ['--curves x.csv.sweep.json', 'the manifest of --out x.csv'],
  },
  {
    why: '--out the config, even with --force',
    args: () => ['--out', 'config.json', '--force'],
    says: ['--out config.json', 'the config config.json'],
  },
  {
    why: '--out the config by another spelling',
    args: (dir) => ['--out', `${dir}/../${basename(dir)}/./config.json`, '--force'],
    says: ['the config config.json'],
  },
  {
    why: '--curves a symlink to --out',
    args: (dir) => {
      symlinkSync('out.csv', join(dir, 'link.csv'));
      return ['--out', 'out.csv', '--curves', 'link.csv'];
    },
    says: ['--curves link.csv', '--out out.csv'],
  },
  {
    why: '--curves a hard link of an existing --out (--force)',
    args: (dir) => {
      writeFileSync(join(dir, 'out.csv'), 'precious\n');
      linkSync(join(dir, 'out.csv'), join(dir, 'hard.csv'));
      return ['--out', 'out.csv', '--curves', 'hard.csv', '--force'];
    },
    says: ['--curves hard.csv', '--out out.csv'],
  },
  {
    why: '--out a symlink to the config',
    args: (dir) => {
      symlinkSync('config.json', join(dir, 'out.csv'));
      return ['--out', 'out.csv', '--force'];
    },
    says: ['--out out.csv', 'the config'],
  },
  {
    why: "--curves the CSV's lock file",
    args: () => ['--out', 'y.csv', '--curves', 'y.csv.lock'],
    says: ['--curves y.csv.lock', 'the lock of --out y.csv'],
  },
];

describe('aliased paths: exit 2, one line naming both, nothing written', () => {
  it.concurrent.each(CASES)('$why', async ({ args, says }) => {
    const dir = folder();
    const rest = args(dir);
    const before = snapshot(dir);
    const r = await run(['config.json', ...rest], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    const line = oneLine(r.stderr);
    expect(line).toContain('is the same file as');
    for (const s of says) expect(line).toContain(s);
    expect(snapshot(dir)).toEqual(before);
  });

  it('distinct files in one folder are fine', async () => {
    const dir = folder();
    const r = await run(['config.json', '--out', 'a.csv', '--curves', 'a.curves.csv', '--no-report'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['a.csv', 'a.csv.sweep.json', 'a.curves.csv', 'config.json']);
  });
});
