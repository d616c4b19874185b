/**
 * Reaching Redis, for the BullMQ executor (the coordinator's side) and the worker
 * process alike: the URL read into ioredis options, the URL as it may be shown
 * (password replaced), the key names a sweep uses, and what travels in a job.
 *
 * Keys, under `prefix` (default `sweep`), with the sweep's fingerprint `fp`:
 * - `<prefix>:sweeps`, a hash: fp → the sweep's entry (`SweepEntry`, JSON). Worker
 *   processes read it to know which queues to serve; the coordinator publishes on the
 *   channel of the same name when it adds one, so that they need not wait for a poll.
 * - `<prefix>:<fp>:*`, BullMQ's queue named fp: the jobs, one per batch request.
 * - `<prefix>:<fp>:results`, a hash: `resultField(request)` → the batch's
 *   `ResultBatch`, through codec.ts. Written by the worker before it completes the
 *   job, so a result outlives the coordinator; deleted once the coordinator has passed
 *   it on (`Executor.passed`).
 */
import type { ConnectionOptions } from 'bullmq';
import type { RedisOptions } from 'ioredis';
import { UsageError } from '../errors.js';
import type { BatchRequest } from '../protocol.js';

export const DEFAULT_PREFIX = 'sweep';

/** How long a lost connection is retried before the sweep (or worker) gives up. */
export const DEFAULT_LOST_MS = 10_000;

export interface RedisTarget {
  /** ioredis options (host, port, credentials, TLS); never printed. */
  readonly options: RedisOptions;
  /** The URL with its password replaced by `***`: the only form that is shown. */
  readonly shown: string;
}

/** The URL with any password replaced by `***` (also for a URL that does not parse). */
export function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/?#]*)@/i, (_, scheme: string, auth: string) => {
    const at = auth.indexOf(':');
    return `${scheme}${at < 0 ? auth : `${auth.slice(0, at)}:***`}@`;
  });
}

/** Reads `redis://[user][:password@]host[:port][/db]` or `rediss://…` (TLS, verified
 * against the system's CAs and NODE_EXTRA_CA_CERTS). Throws `UsageError` naming
 * `flag` and the redacted URL. */
export function parseRedisUrl(url: string, flag = '--redis'): RedisTarget {
  const shown = redact(url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`${flag} ${shown}: not a URL; expected redis://HOST:PORT or rediss://HOST:PORT`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new UsageError(`${flag} ${shown}: the scheme must be redis:// or rediss:// (TLS), got ${u.protocol}//`);
  if (!u.hostname) throw new UsageError(`${flag} ${shown}: no host`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new UsageError(`${flag} ${shown}: the database must be an integer >= 0`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const options: RedisOptions = {
    host,
    port: u.port ? Number(u.port) : 6379,
    db,
    ...(u.username && { username: decodeURIComponent(u.username) }),
    ...(u.password && { password: decodeURIComponent(u.password) }),
    ...(u.protocol === 'rediss:' && { tls: { servername: /^[\d.]+$|:/.test(host) ? undefined : host } }),
  };
  return { options, shown };
}

/** Options for a long-lived connection: a lost server is retried for `lostMs`, then
 * the client ends (its 'end' event), and commands fail rather than queue forever. */
export function lastingOptions(target: RedisTarget, lostMs: number, onGiveUp: () => void): RedisOptions {
  let since = 0;
  return {
    ...target.options,
    // BullMQ's blocking connections need it; ours must not give up on one command
    // while the connection is being retried.
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => {
      if (times === 1) since = Date.now();
      if (Date.now() - since >= lostMs) {
        onGiveUp();
        return null;
      }
      return Math.min(100 * times, 1000);
    },
  };
}

/** The same, typed for BullMQ (whose own option type restates ioredis's, not quite
 * identically: the same object, as BullMQ passes it on to ioredis). */
export const bullmqOptions = (options: RedisOptions): ConnectionOptions => options as ConnectionOptions;

/** Connects once, without retrying, and checks the server answers: the start-up
 * check. Rejects with one line naming the redacted URL. */
export async function probe(target: RedisTarget, timeoutMs = 5000): Promise<void> {
  const { Redis } = await import('ioredis'); // when needed: see ./bullmq.ts
  const client = new Redis({
    ...target.options,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  });
  // The cause (refused, a wrong password) comes as an 'error' event; the promise
  // then rejects with a bare "Connection is closed".
  let cause: unknown;
  client.on('error', (e) => (cause ??= e));
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    throw new Error(`cannot reach Redis at ${target.shown}: ${describe(cause ?? e)}`, { cause: e });
  } finally {
    client.disconnect();
  }
}

/** An error from ioredis as a short phrase (its code, or its message's first line). */
export function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException & { errors?: unknown[] };
  if (err?.code && /^E[A-Z]+$/.test(err.code)) return err.code;
  const message = e instanceof Error ? e.message : String(e);
  return message.split('\n')[0];
}

/** The keys of one sweep (fingerprint `fp`) under `prefix`. */
export const keys = (prefix: string, fp?: string) => ({
  sweeps: `${prefix}:sweeps`,
  results: `${prefix}:${fp}:results`,
});

/** A sweep's entry in `<prefix>:sweeps`. */
export interface SweepEntry {
  /** PROTOCOL_VERSION of the coordinator. */
  readonly v: number;
  readonly engine: string;
  readonly name: string;
  readonly runs: number;
}

/** A job's data: the request, through codec.ts, the engine that sent it, and where
 * its result goes. */
export interface JobData {
  readonly engine: string;
  readonly request: string;
  /** Where the worker stores the records (`resultField`). */
  readonly field: string;
}

/** Where a request's result is stored: its runs and what the request asked for
 * (curves, rows), then the attempt (a retry of the same runs must not find the
 * result it retries). */
export function resultField(request: BatchRequest, attempt = 0): string {
  // The budget too: a rung of early stopping asks for the same runs at fewer steps.
  const base = `${request.first}:${request.count}:${request.budget}:${request.curveEvery}:${request.encodeRows ? 1 : 0}`;
  return attempt === 0 ? base : `${base}#${attempt}`;
}

/** A first-attempt field read back: its runs, and what they were computed with. */
export function readField(field: string): { first: number; count: number; settings: string } | undefined {
  const m = /^(\d+):(\d+):(\d+:\d+:[01])$/.exec(field);
  return m ? { first: Number(m[1]), count: Number(m[2]), settings: m[3] } : undefined;
}
