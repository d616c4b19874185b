/**
 * Issue 8, finding 4: resuming keeps the curves. The printed resume command names
 * the curves file and its resolution (shell-quoted: pasted as printed, it works for
 * paths with spaces and quotes) and the options that shape the sweep; following it
 * gives the curves of an uninterrupted sweep. A resume that would leave curves
 * missing or mixed is refused with one line, exit 2, nothing changed: no --curves,
 * a deleted or cut curves file, another --curve-every.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CLI,
  QUADRATIC_54,
  oneLine,
  readManifest,
  rowsIn,
  run,
  scratch,
  stable,
  start,
  waitFor,
  type Exit,
} from './child.js';

/** 54 runs, one per batch: a second or two. */
const BIG = { ...QUADRATIC_54, name: 'resume-curves' };
const EVERY = '10';

const tmp = scratch('sweep-resume-curves-');
/** A folder whose name needs quoting in a shell. */
const dir = join(tmp, "it's a folder");
const config = join(dir, 'my config.json');
const reference = join(tmp, 'reference.csv');
const referenceCurves = join(tmp, 'reference-curves.csv');

beforeAll(async () => {
  mkdirSync(dir);
  writeFileSync(config, JSON.stringify(BIG));
  const r = await run([config, '--out', reference, '--curves', referenceCurves, '--curve-every', EVERY]);
  expect(r.code, r.stderr).toBe(0);
});

/** Runs a printed `npm run sweep -- …` line in bash, as a user pasting it would (npm
 * stands for the built CLI, which is what `npm run sweep --` runs). */
function paste(command: string): Promise<Exit> {
  const npm = `npm() { shift 3; exec "${process.execPath}" "${CLI}" "$@" --no-progress; }`;
  return new Promise((resolve) => {
    execFile('bash', ['-c', `${npm}\n${command}`], (error, stdout, stderr) => {
      resolve({ code: error ? (error.code as number) : 0, signal: null, stdout, stderr });
    });
  });
}

/** Interrupts a sweep with curves (SIGTERM) once `atRows` rows are written; gives the
 * CSV, the curves and the printed resume command. */
async function interrupted(label: string, extra: string[] = []) {
  const out = join(dir, `${label} out.csv`);
  const curves = join(dir, `${label} cur"ves.csv`);
  const child = start([config, '--out', out, '--curves', curves, '--curve-every', EVERY, ...extra]);
  await waitFor('some rows', () => rowsIn(out) >= 10, child.exited);
  child.kill('SIGTERM');
  const stopped = await child.exit;
  expect(stopped.code, stopped.stderr).toBe(143);
  const lines = stopped.stderr.split('\n');
  const command = lines[lines.findIndex((l) => l.endsWith('to finish:')) + 1]?.trim();
  expect(command).toMatch(/^npm run sweep -- /);
  expect(rowsIn(out)).toBeLessThan(BIG.optimizers.length * 9);
  return { out, curves, command };
}

describe('the printed resume command', () => {
  it('names the curves and their resolution, quoted; pasted, it finishes CSV and curves as uninterrupted', async () => {
    const { out, curves, command } = await interrupted('hint');
    expect(command).toContain('--curves ');
    expect(command).toContain(`--curve-every ${EVERY}`);
    const resumed = await paste(command);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(stable(readFileSync(out, 'utf8'))).toEqual(stable(readFileSync(reference, 'utf8')));
    expect(readFileSync(curves, 'utf8')).toBe(readFileSync(referenceCurves, 'utf8'));
    expect(readManifest(out)).toMatchObject({ complete: true, curves: { every: Number(EVERY) } });
  });

  it('keeps --max-runs and --retries', async () => {
    const { command } = await interrupted('options', ['--max-runs', '60', '--retries', '2']);
    expect(command).toContain('--max-runs 60');
    expect(command).toContain('--retries 2');
  });
});

describe('a resume that would lose or mix curves: exit 2, one line, nothing changed', () => {
  let base: { out: string; curves: string; command: string };
  let n = 0;

  beforeAll(async () => {
    base = await interrupted('base');
  });

  /** A copy of the interrupted sweep (CSV, manifest, curves). */
  function copy(): { out: string; curves: string } {
    const out = join(dir, `copy-${n} out.csv`);
    const curves = join(dir, `copy-${n++} curves.csv`);
    copyFileSync(base.out, out);
    copyFileSync(`${base.out}.sweep.json`, `${out}.sweep.json`);
    copyFileSync(base.curves, curves);
    return { out, curves };
  }

  async function refused(args: string[], out: string, says: string[]): Promise<void> {
    const before = [readFileSync(out), readFileSync(`${out}.sweep.json`)];
    const r = await run(args);
    expect(r.code, r.stderr).toBe(2);
    const line = oneLine(r.stderr);
    for (const s of says) expect(line).toContain(s);
    expect(readFileSync(out).equals(before[0]), 'CSV unchanged').toBe(true);
    expect(readFileSync(`${out}.sweep.json`).equals(before[1]), 'manifest unchanged').toBe(true);
  }

  it('without --curves: the message names the flags to give', async () => {
    const { out } = copy();
    await refused([config, '--out', out, '--resume'], out, ['records its curves', `--curve-every ${EVERY}`]);
  });

  it('with the curves file deleted', async () => {
    const { out, curves } = copy();
    rmSync(curves);
    await refused([config, '--out', out, '--resume', '--curves', curves], out, ['curves file is missing']);
  });

  it('with a curves file behind the CSV (cut before the last runs)', async () => {
    const { out, curves } = copy();
    const text = readFileSync(curves, 'utf8');
    truncateSync(curves, text.lastIndexOf('\n', text.length / 2) + 1);
    const before = readFileSync(curves);
    await refused([config, '--out', out, '--resume', '--curves', curves], out, ['behind the CSV', 'run ']);
    expect(readFileSync(curves).equals(before)).toBe(true);
  });

  it('with another --curve-every', async () => {
    const { out, curves } = copy();
    await refused([config, '--out', out, '--resume', '--curves', curves, '--curve-every', '5'], out, [
      '--curve-every 5',
      `every ${EVERY} steps`,
    ]);
  });

  it('with --curves for a sweep started without them', async () => {
    const out = join(dir, 'plain out.csv');
    const child = start([config, '--out', out]);
    await waitFor('some rows', () => rowsIn(out) >= 5, child.exited);
    child.kill('SIGTERM');
    expect((await child.exit).code).toBe(143);
    await refused([config, '--out', out, '--resume', '--curves', join(dir, 'late.csv')], out, [
      'started without --curves',
    ]);
  });

  it('with --curves and no --curve-every, the recorded resolution is kept', async () => {
    const { out, curves } = copy();
    const r = await run([config, '--out', out, '--resume', '--curves', curves]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(curves, 'utf8')).toBe(readFileSync(referenceCurves, 'utf8'));
  });
});
