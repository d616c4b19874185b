/**
 * The BullMQ executor: batches run on worker processes anywhere that reach one
 * Redis (`npm run worker -- --redis URL`, src/worker-cli.ts), through a BullMQ queue
 * named by the sweep's fingerprint. Each request is a job (codec.ts text, with a job
 * id made from its runs, so adding it twice is adding it once); the worker stores the
 * batch's records in the sweep's results hash before it completes the job, and this
 * side reads them from there when the completion event comes (results are stored by
 * the processor, not trusted to the event), so they outlive the coordinator: a
 * `--resume` finds what was finished while it was away, in pieces of any boundary.
 *
 * Delivery is at least once (a job whose worker stalls is run again elsewhere):
 * a request settles once, and whatever arrives for it after is ignored. Redis
 * unreachable at start, or lost for longer than `lostMs`, is an `ExecutorError`.
 * Key names: redis-connection.ts.
 */
import { availableParallelism } from 'node:os';
// bullmq and ioredis are imported when first needed (ready, a sweep's queue): they take
// about 0.6 s of CPU to load, which every other sweep would pay at start.
import type { Queue, QueueEvents } from 'bullmq';
import type { Redis, RedisOptions } from 'ioredis';
import { decode, encode } from '../codec.js';
import { ExecutorError, type Executor } from '../executor.js';
import type { Plan } from '../grid.js';
import { ENGINE_VERSION, fingerprint } from '../manifest.js';
import { PROTOCOL_VERSION, type BatchRequest, type LiveRun, type Progress } from '../protocol.js';
import { joinBatches, sliceBatch, type ResultBatch } from '../results.js';
import {
  DEFAULT_LOST_MS,
  DEFAULT_PREFIX,
  describe,
  keys,
  bullmqOptions,
  lastingOptions,
  parseRedisUrl,
  probe,
  readField,
  resultField,
  type JobData,
  type RedisTarget,
  type SweepEntry,
} from './redis-connection.js';

export interface RedisExecutorOptions {
  /** `redis://[:password@]host:port[/db]` or `rediss://…`. */
  url: string;
  /** Threads expected across the worker processes: sizes the batches (default: this
   * machine's cores). */
  workers?: number;
  /** Key prefix (default `sweep`). */
  prefix?: string;
  /** How long a lost Redis is retried before the sweep stops (default 10 s). */
  lostMs?: number;
}

/** Batches kept queued per expected thread, and at least: workers take them as they
 * free up, so a deep queue costs nothing but a little Redis memory. */
const QUEUED_PER_THREAD = 4;
const MIN_QUEUED = 16;
/** A request not heard of for this long is looked up (its event may have been lost). */
const RECONCILE_MS = 2000;
/** The count of workers connected is refreshed at most this often. */
const WORKERS_MS = 1000;
/** How long a finished sweep waits for the workers to leave its queue before removing it. */
const DETACH_MS = 5000;

interface Pending {
  readonly request: BatchRequest;
  readonly field: string;
  readonly sweep: Sweep;
  readonly since: number;
  readonly resolve: (r: ResultBatch) => void;
  readonly reject: (e: Error) => void;
}

/** A stored result this side has read: deleted once the coordinator has passed it on. */
interface Stored {
  readonly field: string;
  readonly end: number;
}

interface Sweep {
  readonly fp: string;
  readonly plan: Plan;
  readonly queue: Queue;
  readonly events: QueueEvents;
  readonly results: string;
  /** First-attempt results found at the start (a resumed sweep), by first run. */
  readonly found: { first: number; count: number; settings: string; field: string }[];
  stored: Stored[];
  complete: boolean;
}

export class RedisExecutor implements Executor {
  readonly size: number;
  private readonly target: RedisTarget;
  private readonly prefix: string;
  private readonly lostMs: number;
  private client: Redis | undefined;
  private readonly sweeps = new Map<string, Promise<Sweep>>();
  private readonly fps = new WeakMap<Plan, string>();
  /** By job id. */
  private readonly pending = new Map<string, Pending>();
  private readonly live = new Map<string, LiveRun>();
  /** Attempts made at each run range of each sweep: a second is a retry. */
  private readonly attempts = new Map<string, number>();
  private failure: ExecutorError | undefined;
  /** The last error a connection reported, for the message when Redis is lost. */
  private lastError = '';
  private workers = 0;
  private workersAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: RedisExecutorOptions) {
    this.target = parseRedisUrl(options.url);
    this.size = options.workers ?? availableParallelism();
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.lostMs = options.lostMs ?? DEFAULT_LOST_MS;
  }

  /** The URL as it may be shown (no password). */
  get shown(): string {
    return this.target.shown;
  }

  private connection(): RedisOptions {
    return lastingOptions(this.target, this.lostMs, () => this.fail(`lost Redis at ${this.target.shown}`));
  }

  async ready(): Promise<void> {
    try {
      await probe(this.target);
    } catch (e) {
      throw new ExecutorError((e as Error).message);
    }
    const { Redis } = await import('ioredis');
    const client = new Redis(this.connection());
    client.on('error', (e) => (this.lastError = describe(e)));
    this.client = client;
    await this.command(() => client.ping());
    this.timer = setInterval(() => void this.reconcile(), RECONCILE_MS);
    this.timer.unref();
  }

  private fail(message: string): void {
    if (this.failure) return;
    this.failure = new ExecutorError(this.lastError ? `${message} (${this.lastError})` : message);
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  /** A Redis command whose failure stops the sweep (a lost server, a refused password). */
  private async command<T>(run: () => Promise<T>): Promise<T> {
    this.throwIfFailed();
    try {
      return await run();
    } catch (e) {
      this.fail(`Redis at ${this.target.shown} failed: ${describe(e)}`);
      throw this.failure!;
    }
  }

  capacity(): number {
    return Math.max(MIN_QUEUED, QUEUED_PER_THREAD * this.size);
  }

  private fingerprintOf(plan: Plan): string {
    let fp = this.fps.get(plan);
    if (!fp) this.fps.set(plan, (fp = fingerprint(plan)));
    return fp;
  }

  /** The sweep's queue, made on its first request: registered in `<prefix>:sweeps`
   * for the workers, with the results already stored for it read. */
  private sweepFor(plan: Plan): Promise<Sweep> {
    const fp = this.fingerprintOf(plan);
    let sweep = this.sweeps.get(fp);
    if (!sweep) {
      sweep = this.openSweep(fp, plan);
      this.sweeps.set(fp, sweep);
    }
    return sweep;
  }

  private async openSweep(fp: string, plan: Plan): Promise<Sweep> {
    const client = this.client!;
    const names = keys(this.prefix, fp);
    const { Queue, QueueEvents } = await import('bullmq');
    const queue = new Queue(fp, { connection: bullmqOptions(this.connection()), prefix: this.prefix });
    queue.on('error', (e) => (this.lastError = describe(e)));
    // Events from the stream's present end: a job added after this is heard of.
    const last = (await this.command(() => client.xrevrange(`${this.prefix}:${fp}:events`, '+', '-', 'COUNT', 1))) as [
      id: string,
      fields: string[],
    ][];
    const events = new QueueEvents(fp, {
      connection: bullmqOptions(this.connection()),
      prefix: this.prefix,
      lastEventId: last[0]?.[0] ?? '0-0',
    });
    events.on('error', (e) => (this.lastError = describe(e)));
    const found = (await this.command(() => client.hkeys(names.results)))
      .flatMap((field) => {
        const f = readField(field);
        return f ? [{ ...f, field }] : [];
      })
      .sort((a, b) => a.first - b.first);
    const sweep: Sweep = { fp, plan, queue, events, results: names.results, found, stored: [], complete: false };
    events.on('completed', ({ jobId }) => void this.fetch(jobId));
    events.on('failed', ({ jobId, failedReason }) => this.reject(jobId, new Error(failedReason)));
    events.on('progress', ({ jobId, data }) => {
      if (this.pending.has(jobId) && typeof data === 'string') this.live.set(jobId, decode<LiveRun>(data));
    });
    await this.command(() => events.waitUntilReady());
    const entry: SweepEntry = { v: PROTOCOL_VERSION, engine: ENGINE_VERSION, name: plan.name, runs: plan.total };
    await this.command(() => client.hset(names.sweeps, fp, JSON.stringify(entry)));
    await this.command(() => client.publish(names.sweeps, fp));
    return sweep;
  }

  async execute(request: BatchRequest): Promise<ResultBatch> {
    const sweep = await this.sweepFor(request.plan);
    const range = `${sweep.fp}:${request.first}:${request.count}`;
    const attempt = this.attempts.get(range) ?? 0;
    this.attempts.set(range, attempt + 1);
    const field = resultField(request, attempt);
    if (attempt === 0) {
      const stored = await this.fromStore(sweep, request, field);
      if (stored) return stored;
    }
    const jobId = `b${field.replaceAll(':', '-').replace('#', '-a')}`;
    const result = new Promise<ResultBatch>((resolve, reject) =>
      this.pending.set(jobId, { request, field, sweep, since: Date.now(), resolve, reject }),
    );
    const data: JobData = { engine: ENGINE_VERSION, request: encode(request), field };
    await this.command(() =>
      sweep.queue.add('batch', data, { jobId, removeOnComplete: true, removeOnFail: false, attempts: 1 }),
    );
    // Finished before its event could be heard (a job left by an earlier coordinator).
    const text = await this.command(() => this.client!.hget(sweep.results, field));
    if (text !== null) this.settle(jobId, text);
    return result;
  }

  /** The request's records if they are stored already: under its own field, or
   * (a resumed sweep whose batches had other boundaries) in pieces that cover it. */
  private async fromStore(sweep: Sweep, request: BatchRequest, field: string): Promise<ResultBatch | undefined> {
    const client = this.client!;
    const text = await this.command(() => client.hget(sweep.results, field));
    if (text !== null) return this.stored(sweep, field, decode<ResultBatch>(text), request);
    const settings = field.slice(field.indexOf(':', field.indexOf(':') + 1) + 1);
    const end = request.first + request.count;
    const pieces: Sweep['found'] = [];
    for (const f of sweep.found) {
      if (f.settings !== settings || f.first + f.count <= request.first) continue;
      const reached = pieces.length ? pieces[pieces.length - 1].first + pieces[pieces.length - 1].count : request.first;
      if (f.first > reached || reached >= end) break;
      if (f.first + f.count > reached) pieces.push(f);
    }
    if (!pieces.length || pieces[0].first > request.first) return undefined;
    const last = pieces[pieces.length - 1];
    if (last.first + last.count < end) return undefined;
    const texts = await this.command(() => client.hmget(sweep.results, ...pieces.map((p) => p.field)));
    if (texts.some((t) => t === null)) return undefined;
    const parts = texts.map((t, i) => {
      const b = decode<ResultBatch>(t!);
      const from = Math.max(0, request.first - pieces[i].first);
      const to = Math.min(b.count, end - pieces[i].first);
      sweep.stored.push({ field: pieces[i].field, end: pieces[i].first + pieces[i].count });
      return from === 0 && to === b.count ? b : sliceBatch(b, from, to);
    });
    return joinBatches(parts);
  }

  /** A stored batch read back: checked to be the request's, remembered for deletion. */
  private stored(sweep: Sweep, field: string, batch: ResultBatch, request: BatchRequest): ResultBatch {
    if (batch.first !== request.first || batch.count !== request.count)
      throw new ExecutorError(
        `Redis at ${this.target.shown}: ${sweep.results} ${field} holds runs ${batch.first}+${batch.count}`,
      );
    sweep.stored.push({ field, end: request.first + request.count });
    return batch;
  }

  private async fetch(jobId: string): Promise<void> {
    const p = this.pending.get(jobId);
    if (!p) return; // settled already: a second delivery, or a job of an earlier coordinator
    let text: string | null;
    try {
      text = await this.command(() => this.client!.hget(p.sweep.results, p.field));
    } catch {
      return; // the sweep has failed; every request is rejected
    }
    if (text === null) this.reject(jobId, new Error(`batch ${jobId} completed without a stored result`));
    else this.settle(jobId, text);
  }

  private settle(jobId: string, text: string): void {
    const p = this.pending.get(jobId);
    if (!p) return;
    this.pending.delete(jobId);
    this.live.delete(jobId);
    try {
      p.resolve(this.stored(p.sweep, p.field, decode<ResultBatch>(text), p.request));
    } catch (e) {
      p.reject(e as Error);
    }
  }

  private reject(jobId: string, e: Error): void {
    const p = this.pending.get(jobId);
    if (!p) return;
    this.pending.delete(jobId);
    this.live.delete(jobId);
    p.reject(e);
  }

  /** Requests not heard of for a while: settled from the store if their result is
   * there, rejected if their job failed, added again if their job vanished. */
  private async reconcile(): Promise<void> {
    if (this.failure) return;
    const now = Date.now();
    for (const [jobId, p] of [...this.pending]) {
      if (now - p.since < RECONCILE_MS) continue;
      try {
        const state = await p.sweep.queue.getJobState(jobId);
        const text = await this.client!.hget(p.sweep.results, p.field);
        if (text !== null) this.settle(jobId, text);
        else if (state === 'failed') {
          const job = await p.sweep.queue.getJob(jobId);
          this.reject(jobId, new Error(job?.failedReason || 'the batch failed'));
        } else if (state === 'unknown' && this.pending.has(jobId)) {
          const data: JobData = { engine: ENGINE_VERSION, request: encode(p.request), field: p.field };
          await p.sweep.queue.add('batch', data, { jobId, removeOnComplete: true, removeOnFail: false });
        }
      } catch {
        return; // Redis is being retried; a lost one fails the sweep
      }
    }
  }

  passed(plan: Plan, next: number): void {
    const sweep = this.sweeps.get(this.fingerprintOf(plan));
    if (!sweep) return;
    void sweep.then((s) => {
      const gone = s.stored.filter((x) => x.end <= next);
      if (!gone.length || this.failure) return;
      s.stored = s.stored.filter((x) => x.end > next);
      this.client!.hdel(s.results, ...gone.map((x) => x.field)).catch(() => undefined);
    });
  }

  finished(plan: Plan): void {
    void this.sweeps.get(this.fingerprintOf(plan))?.then((s) => (s.complete = true));
  }

  progress(): Promise<Progress> {
    const now = Date.now();
    if (now - this.workersAt >= WORKERS_MS && !this.failure) {
      this.workersAt = now;
      const first = this.sweeps.values().next().value;
      void first
        ?.then((s) => s.queue.getWorkersCount())
        .then((n) => (this.workers = n))
        .catch(() => undefined);
    }
    return Promise.resolve({ runs: [...this.live.values()], workers: this.workers });
  }

  /** Leaves the sweeps: a complete one's keys are removed (once its workers have
   * left its queue); an unfinished one keeps its queue and results for `--resume`. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const sweeps = await Promise.allSettled(this.sweeps.values());
    for (const s of sweeps) {
      if (s.status !== 'fulfilled') continue;
      const sweep = s.value;
      if (!this.failure && sweep.complete) await this.remove(sweep).catch(() => undefined);
      await bounded(sweep.events.close());
      await bounded(sweep.queue.close());
    }
    if (this.failure) this.client?.disconnect();
    else await bounded(this.client?.quit());
  }

  private async remove(sweep: Sweep): Promise<void> {
    const client = this.client!;
    const names = keys(this.prefix, sweep.fp);
    await client.hdel(names.sweeps, sweep.fp);
    await client.publish(names.sweeps, sweep.fp);
    for (const until = Date.now() + DETACH_MS; Date.now() < until;) {
      if ((await sweep.queue.getWorkersCount()) === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await sweep.queue.obliterate({ force: true });
    await client.del(names.results);
  }
}

/** Waits for a closing connection, but not forever (a lost server never answers). */
async function bounded(p: Promise<unknown> | undefined, ms = 2000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p?.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
