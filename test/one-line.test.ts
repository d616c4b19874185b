/**
 * Issue 8, finding 9: every case that printed a stack trace (`sweep: internal
 * error: …`) now gives one line: bad input exit 2, an output that cannot be written
 * exit 1; a manifest that cannot be written at the start leaves no empty CSV behind
 * (a rerun is accepted once the cause is gone); human output read by `head -1`
 * stops that output, not the sweep, whose manifest is still marked complete.
 * Read-only files and folders come from a read-only bind mount and `chattr +i`, a
 * full disk from a tmpfs, where this machine permits them.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, oneLine, readManifest, run } from './child.js';

const CONFIG = { name: 'oneline', problem: { name: 'anisotropic-bowl' }, optimizers: ['sgd', 'adam'], steps: 10 };

let tmp: string;
let config: string;
const mounts: string[] = [];

/** Runs `command` as root may; false where it is not permitted. */
function may(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sweep-one-line-'));
  config = join(tmp, 'config.json');
  writeFileSync(config, JSON.stringify(CONFIG));
});

afterAll(() => {
  for (const m of mounts.reverse()) may('umount', [m]);
  rmSync(tmp, { recursive: true, force: true });
});

let n = 0;
const folder = (): string => {
  const dir = join(tmp, `case-${n++}`);
  mkdirSync(dir);
  return dir;
};

/** Exit `code` and one line containing each of `says`. */
async function oneLineExit(args: string[], code: number, says: string[]): Promise<void> {
  const r = await run(args);
  expect(r.code, r.stderr).toBe(code);
  const line = oneLine(r.stderr);
  for (const s of says) expect(line).toContain(s);
}

describe('bad input on the command line: exit 2, one line', () => {
  it.concurrent.each([
    ['--out with no value', ['--out'], ['--out needs a value']],
    ['--out given twice', ['--out', 'a.csv', '--out', 'b.csv'], ['--out is given 2 times', 'give it once']],
    ['--curves given empty', ['--out', 'x.csv', '--curves', ''], ["--curves needs a file name, got ''"]],
    ['--out /proc/self/fd/1', ['--out', '/proc/self/fd/1'], ['not a regular file', '--out -']],
    ['--out /dev/stdout', ['--out', '/dev/stdout'], ['not a regular file', '--out -']],
  ])('%s', async (_why, extra, says) => {
    await oneLineExit([config, ...extra], 2, says);
    expect(readdirSync(ROOT).filter((f) => f.endsWith('.sweep.json') || f.endsWith('.lock'))).toEqual([]);
    expect(existsSync('/dev/stdout.sweep.json')).toBe(false);
  });

  it('the CSV a symlink to /dev/null, with --force and with --resume', async () => {
    const dir = folder();
    symlinkSync('/dev/null', join(dir, 'null.csv'));
    for (const how of ['--force', '--resume'])
      await oneLineExit([config, '--out', join(dir, 'null.csv'), how], 2, ['is a device, not a regular file']);
  });

  it('a name so long that the manifest beside it cannot be named: nothing is created', async () => {
    const dir = folder();
    await oneLineExit([config, '--out', join(dir, 'a'.repeat(248))], 2, ['the name is too long', 'shorter name']);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('--out under a file ("cfg/grid.json/x.csv"): the file is named as such', async () => {
    await oneLineExit([config, '--out', join(config, 'x.csv')], 2, [`${config} is a file, not a folder`]);
  });

  it('a config nested 5,000 arrays deep', async () => {
    const deep = join(tmp, 'deep.json');
    writeFileSync(
      deep,
      JSON.stringify({ ...CONFIG, lr: 0 }).replace('"lr":0', `"lr":${'['.repeat(5000)}${']'.repeat(5000)}`),
    );
    await oneLineExit([deep, '--out', join(folder(), 'x.csv')], 2, ['lr[0]', 'more than 32 deep']);
  });

  it.concurrent.each([
    ['null', 'not a sweep manifest'],
    ['{}', 'not a sweep manifest'],
    ['{"format": 3, "fingerprint": "x", "config": null}', 'different config'],
    ['{"format": 3, "fing', 'not valid JSON (torn or edited)'],
  ])('a manifest holding %s', async (text, says) => {
    const dir = folder();
    const out = join(dir, 'x.csv');
    expect((await run([config, '--out', out])).code).toBe(0);
    writeFileSync(`${out}.sweep.json`, text);
    await oneLineExit([config, '--out', out, '--resume'], 2, [says]);
  });
});

describe('outputs that cannot be written', () => {
  it('a read-only folder (a read-only bind mount): refused before anything is written', async (ctx) => {
    const dir = folder();
    const ro = join(tmp, `ro-${n++}`);
    mkdirSync(ro);
    expect((await run([config, '--out', join(dir, 'x.csv')])).code).toBe(0);
    if (!may('mount', ['--bind', dir, ro])) return ctx.skip('mount not permitted here');
    mounts.push(ro);
    if (!may('mount', ['-o', 'remount,bind,ro', ro])) return ctx.skip('read-only remount not permitted here');
    await oneLineExit([config, '--out', join(ro, 'y.csv')], 2, ['cannot write to folder', 'EROFS']);
    // The sweep there, resumed: the CSV cannot be written.
    writeFileSync(
      join(dir, 'x.csv.sweep.json'),
      JSON.stringify({ ...readManifest(join(dir, 'x.csv')), complete: false }),
    );
    await oneLineExit([config, '--out', join(ro, 'x.csv'), '--resume'], 2, ['EROFS']);
  });

  it('an immutable CSV (chattr +i) on resume', async (ctx) => {
    const dir = folder();
    const out = join(dir, 'x.csv');
    expect((await run([config, '--out', out])).code).toBe(0);
    writeFileSync(`${out}.sweep.json`, JSON.stringify({ ...readManifest(out), complete: false }));
    if (!may('chattr', ['+i', out])) return ctx.skip('chattr +i not permitted here');
    try {
      await oneLineExit([config, '--out', out, '--resume'], 2, ['cannot write it', 'EPERM']);
    } finally {
      may('chattr', ['-i', out]);
    }
  });

  it('a full disk at the start (a full tmpfs): exit 1, one line, no empty CSV left; once there is room, a rerun runs', async (ctx) => {
    const full = join(tmp, `full-${n++}`);
    mkdirSync(full);
    if (!may('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', full])) return ctx.skip('mount not permitted here');
    mounts.push(full);
    // Full but for one page: the lock takes it, the CSV is created (an empty file takes
    // none), its manifest cannot be written.
    may('dd', ['if=/dev/zero', `of=${join(full, 'filler')}`, 'bs=4k', 'count=15']);
    const out = join(full, 'x.csv');
    await oneLineExit([config, '--out', out, '--no-report'], 1, ['cannot write the manifest', 'ENOSPC']);
    expect(readdirSync(full).sort()).toEqual(['filler']);
    // Not even a page: the lock itself cannot be written, and is not left behind.
    may('dd', ['if=/dev/zero', `of=${join(full, 'more')}`, 'bs=4k', 'count=1']);
    await oneLineExit([config, '--out', out, '--no-report'], 1, ['cannot write its lock', 'ENOSPC']);
    expect(readdirSync(full).sort()).toEqual(['filler', 'more']);
    rmSync(join(full, 'more'));
    rmSync(join(full, 'filler'));
    const r = await run([config, '--out', out, '--no-report']);
    expect(r.code, r.stderr).toBe(0);
    expect(readManifest(out).complete).toBe(true);
  });
});

describe('human output read by `head -1`', () => {
  it('stops that output, not the sweep: exit 0, no trace, the manifest marked complete', async () => {
    const out = join(folder(), 'x.csv');
    const child = spawn(process.execPath, [CLI, config, '--out', out, '--no-progress'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Read one line, then go away, as head -1 does.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(readManifest(out).complete).toBe(true);
  });
});

describe('the unclear messages of the issue, made clear', () => {
  it('a key given twice in a config names the key and the line', async () => {
    const twice = join(tmp, 'twice.json');
    writeFileSync(
      twice,
      '{\n  "name": "x",\n  "problem": {"name": "anisotropic-bowl"},\n  "optimizers": ["sgd"],\n  "lr": 0.1,\n  "steps": 5,\n  "lr": 0.2\n}\n',
    );
    await oneLineExit([twice, '--out', join(folder(), 'x.csv')], 2, [`${twice}: lr is given twice (again at line 7)`]);
  });

  it('a problem too large for a run says the limit as it is, about 4 GiB', async () => {
    const big = join(tmp, 'big.json');
    writeFileSync(big, JSON.stringify({ ...CONFIG, problem: { name: 'quadratic', dim: 200_000_000 } }));
    await oneLineExit([big, '--dry-run'], 2, ['more than the 4.0 GiB a run']);
  });

  it('sweeps started together with the default name each get their own file, none told to --force', async () => {
    const dir = folder();
    const all = await Promise.all([0, 1, 2].map(() => run([config], { cwd: dir })));
    for (const r of all) expect(r.code, r.stderr).toBe(0);
    const csvs = readdirSync(join(dir, 'results')).filter((f) => f.endsWith('.csv') && !f.includes('summary'));
    expect(new Set(csvs).size).toBe(3);
  });
});
