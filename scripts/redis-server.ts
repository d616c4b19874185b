/**
 * A real `redis-server` (Debian's package `redis-server`) for the tests and the
 * bench, started on a free loopback port with nothing persisted, and real worker
 * processes (`node dist/src/worker-cli.js`) taking batches from it. Without the
 * package the Redis tests are skipped (test/global-setup.ts says so in one line);
 * under CI=true that is a failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT } from '../src/paths.js';

export const WORKER_CLI = join(ROOT, 'dist', 'src', 'worker-cli.js');
export const SWEEP_CLI = join(ROOT, 'dist', 'src', 'cli.js');

/** Where redis-server is, or undefined when it is not installed. */
export function findRedisServer(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/usr/sbin', '/usr/local/bin'];
  return dirs.map((d) => join(d, 'redis-server')).find((p) => p.startsWith('/') && existsSync(p));
}

export const REDIS_SERVER = findRedisServer();
export const REDIS_MISSING_LINE = 'redis tests skipped: redis-server is not installed (apt-get install redis-server)';

/** A port nothing listens on now, on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  readonly port: number;
  /** redis://127.0.0.1:PORT (rediss:// for TLS), with the password if there is one. */
  readonly url: string;
  /** redis-cli against this server (with its password): stdout, trimmed. */
  cli(...args: string[]): string;
  /** Every key, by `redis-cli --scan`. */
  keys(): string[];
  /** Kills the server at once (SIGKILL): a lost Redis. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** PEM files for a server that speaks only TLS (clients are not asked for certificates). */
export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

export async function startRedis(
  options: { password?: string; port?: number; tls?: TlsFiles } = {},
): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const { tls } = options;
  const listen = tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key]
    : ['--port', String(port)];
  if (tls) listen.push('--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no');
  const args = [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  if (options.password) args.push('--requirepass', options.password);
  const server = spawn(REDIS_SERVER!, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const auth = options.password ? ['--no-auth-warning', '-a', options.password] : [];
  if (tls) auth.push('--tls', '--cacert', tls.ca);
  const cli = (...a: string[]): string => {
    const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...auth, ...a], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`redis-cli ${a.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  for (let i = 0; ; i++) {
    try {
      if (cli('ping') === 'PONG') break;
    } catch {
      // not up yet
    }
    if (i > 200 || server.exitCode !== null) throw new Error(`redis-server on port ${port} did not start`);
    await new Promise((r) => setTimeout(r, 25));
  }
  const scheme = tls ? 'rediss' : 'redis';
  const url = options.password
    ? `${scheme}://:${encodeURIComponent(options.password)}@127.0.0.1:${port}`
    : `${scheme}://127.0.0.1:${port}`;
  const kill = async (): Promise<void> => {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    await exited;
  };
  return {
    port,
    url,
    cli,
    keys: () => cli('--scan').split('\n').filter(Boolean),
    kill,
    stop: kill,
  };
}

/** A worker process, its output gathered. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code, or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Batches it ran, from its closing line (after a graceful stop). */
  batchesRun(): number;
}

export async function startWorker(
  url: string,
  options: { workers?: number; lockMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<WorkerProcess> {
  const args = [WORKER_CLI, '--redis', url, '--workers', String(options.workers ?? 1)];
  if (options.lockMs) args.push('--lock-ms', String(options.lockMs));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const worker: WorkerProcess = {
    child,
    output: () => text,
    exited,
    batchesRun: () => Number(/(\d+) batches run/.exec(text)?.[1] ?? NaN),
  };
  await waitFor(() => /taking batches from/.test(text) || child.exitCode !== null, 30_000, 'a worker to start');
  return worker;
}

/** A CA and a certificate it signed for 127.0.0.1, made with openssl in `dir`;
 * undefined without openssl. */
export function makeCertificates(dir: string): TlsFiles | undefined {
  const files = { cert: join(dir, 'server.pem'), key: join(dir, 'server.key'), ca: join(dir, 'ca.pem') };
  const caKey = join(dir, 'ca.key');
  const csr = join(dir, 'server.csr');
  const ext = join(dir, 'ext.cnf');
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1\n');
  const steps = [
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      caKey,
      '-out',
      files.ca,
      '-days',
      '2',
      '-subj',
      '/CN=sweep test CA',
    ],
    ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', files.key, '-out', csr, '-subj', '/CN=127.0.0.1'],
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      files.ca,
      '-CAkey',
      caKey,
      '-CAcreateserial',
      '-out',
      files.cert,
      '-days',
      '2',
      '-extfile',
      ext,
    ],
  ];
  for (const step of steps) {
    const r = spawnSync('openssl', step, { encoding: 'utf8' });
    if (r.error) return undefined;
    if (r.status !== 0) throw new Error(`openssl ${step[0]}: ${r.stderr}`);
  }
  return files;
}

/** A CSV's text without its timing column (`duration_ms`): what two sweeps of one
 * plan must agree on, wherever their batches ran. */
export function untimed(csv: string): string {
  const lines = csv.trimEnd().split('\n');
  const at = lines[0].split(',').indexOf('duration_ms');
  return lines
    .map((l) =>
      l
        .split(',')
        .filter((_, i) => i !== at)
        .join(','),
    )
    .join('\n');
}

/** Polls `ok` until it holds; throws naming `what` after `ms`. */
export async function waitFor(ok: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs a command to its end, gathering its output. */
export function run(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done };
}
