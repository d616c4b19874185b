/**
 * The CLI as a child process, for the tests that drive it end to end: started from
 * the repository root (the global setup builds dist/), optionally under shell limits
 * (`ulimit -f`, `ulimit -v`), watched while it runs and signalled.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { afterAll, expect } from 'vitest';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CLI = join(ROOT, 'dist', 'src', 'cli.js');
/** 6 optimizers × 3 learning rates × 3 seeds = 54 runs of 150 updates on 20 000
 * parameters: a second or two in all, one run per batch (the batch size follows the
 * cost); lr 1 diverges for sgd, momentum and nesterov, so some rows are `diverged`. */
export const QUADRATIC_54 = {
  name: 'resume-quadratic',
  problem: { name: 'quadratic', dim: 20000, condition: 100 },
  optimizers: ['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'],
  lr: [0.01, 0.1, 1],
  seeds: [0, 1, 2],
  steps: 150,
};
/** A sweep that takes no time: 6 × 4 × 2 = 48 runs on the bowl. */
export const BOWL_48 = {
  name: 'resume-bowl',
  problem: { name: 'anisotropic-bowl' },
  optimizers: ['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'],
  lr: [0.001, 0.01, 0.1, 1],
  seeds: [0, 1],
  steps: 30,
};

/** Generous: only a stuck child reaches it. */
const DEADLINE_MS = 60_000;
const POLL_MS = 10;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Child {
  readonly pid: number;
  /** What it has written to stderr so far. */
  stderr(): string;
  exited(): boolean;
  kill(signal: NodeJS.Signals): void;
  exit: Promise<Exit>;
}

export interface StartOptions {
  /** Shell commands run before the CLI, in the same shell: `ulimit -f 200`. */
  limits?: string;
  cwd?: string;
  /** Another build's CLI (`copyPackage`). */
  cli?: string;
  /** Write the end-of-sweep report (default: no, `--no-report`: it costs a second of
   * CPU per sweep, and test/report-cli.test.ts is where it is tested). */
  report?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Starts `node dist/src/cli.js [--no-report] ...args --no-progress`. */
export function start(args: string[], options: StartOptions = {}): Child {
  const quiet = options.report || args.includes('--no-report') ? [] : ['--no-report'];
  const argv = [options.cli ?? CLI, ...quiet, ...args, '--no-progress'];
  const how = {
    cwd: options.cwd ?? ROOT,
    stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'],
    env: options.env,
  };
  const child = options.limits
    ? spawn('bash', ['-c', `${options.limits} && exec "$0" "$@"`, process.execPath, ...argv], how)
    : spawn(process.execPath, argv, how);
  let stdout = '';
  let stderr = '';
  let done = false;
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exit = new Promise<Exit>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      done = true;
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    pid: child.pid!,
    stderr: () => stderr,
    exited: () => done || child.exitCode !== null || child.signalCode !== null,
    kill: (signal) => void child.kill(signal),
    exit,
  };
}

export const run = (args: string[], options?: StartOptions): Promise<Exit> => start(args, options).exit;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `ready()`; fails if `gone()` first or after the deadline. */
export async function waitFor(what: string, ready: () => boolean, gone: () => boolean = () => false): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    if (ready()) return;
    if (gone()) throw new Error(`the sweep ended before ${what}`);
    if (Date.now() > deadline) throw new Error(`still waiting for ${what} after ${DEADLINE_MS} ms`);
    await sleep(POLL_MS);
  }
}

/** Complete rows in the CSV so far (the header and a torn last line not counted). */
export function rowsIn(path: string): number {
  if (!existsSync(path)) return 0;
  const text = readFileSync(path, 'utf8');
  let lines = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
  return Math.max(0, lines - 1);
}

/** The CSV without its timing column, as records of cells. */
export function stable(text: string): string[][] {
  const records = parse(text) as string[][];
  const k = records[0].indexOf('duration_ms');
  expect(k).toBeGreaterThan(0);
  return records.map((r) => r.filter((_, i) => i !== k));
}

/** The manifest beside a CSV. */
export const readManifest = (csv: string): Record<string, any> => JSON.parse(readFileSync(`${csv}.sweep.json`, 'utf8'));

/** The only line of `stderr`, after checking there is exactly one and no stack. */
export function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(stderr).not.toContain('internal error');
  return lines[0];
}

/**
 * A copy of the built package in `dir` (its CLI finds its worker, kernels and data
 * beside itself), for a test that replaces a file of it: gives the copy's CLI.
 */
export function copyPackage(dir: string): string {
  mkdirSync(dir, { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  for (const shared of ['node_modules', 'kernels']) symlinkSync(join(ROOT, shared), join(dir, shared), 'dir');
  for (const built of ['src', 'workers'])
    cpSync(join(ROOT, 'dist', built), join(dir, 'dist', built), { recursive: true });
  return join(dir, 'dist', 'src', 'cli.js');
}

/** A temporary folder for a test file, removed after its tests, holding `configs` as
 * `<name>.json`: gives its path. */
export function scratch(prefix: string, configs: Record<string, object> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const [name, config] of Object.entries(configs))
    writeFileSync(join(dir, `${name}.json`), JSON.stringify(config));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
