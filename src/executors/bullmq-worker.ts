/**
 * The worker process's side of the BullMQ executor (bullmq.ts): it serves every sweep
 * registered in `<prefix>:sweeps` whose engine and protocol are its own, one BullMQ
 * worker per sweep's queue, and runs the batches it takes on its own piscina pool
 * (which resolves each problem's data itself, from the request's descriptor). The
 * records go into the sweep's results hash before the job completes, so that a
 * batch finished here survives whatever happens to the coordinator; a batch whose
 * records are stored already (its first worker died before completing it) is not
 * run again. Live progress goes out as job progress.
 */
import { hostname } from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { decode, encode } from '../codec.js';
import { ExecutorError } from '../executor.js';
import { ENGINE_VERSION } from '../manifest.js';
import { PROTOCOL_VERSION, type BatchRequest, type LiveRun } from '../protocol.js';
import { PiscinaExecutor } from './piscina.js';
import {
  DEFAULT_LOST_MS,
  DEFAULT_PREFIX,
  keys,
  bullmqOptions,
  lastingOptions,
  parseRedisUrl,
  probe,
  type JobData,
  type RedisTarget,
  type SweepEntry,
} from './redis-connection.js';

/** Default lock duration of a job, ms: a worker that stops renewing it (killed,
 * frozen, cut off) loses its batches to the others this long after. */
export const DEFAULT_LOCK_MS = 30_000;
/** Times a batch may lose its worker before it is failed (and the coordinator runs
 * its runs one at a time): a batch that kills every process it reaches is guilty. */
const MAX_STALLS = 5;
/** Jobs taken per thread: one running, one waiting in the pool, so that a thread
 * never waits for Redis between batches. */
const JOBS_PER_THREAD = 2;
/** The registry is read on every notice, and at least this often. */
const POLL_MS = 1000;
/** Live progress is sent at most this often. */
const PROGRESS_MS = 500;

export interface RedisWorkerOptions {
  url: string;
  /** Threads of the pool; default: the available cores. */
  workers?: number;
  workerMemoryMb?: number;
  prefix?: string;
  /** Lock duration and stalled-check interval, ms (default 30 s). */
  lockMs?: number;
  /** How long a lost Redis is retried before the worker gives up, ms. */
  lostMs?: number;
  /** One line for the operator. */
  log: (line: string) => void;
  /** The worker cannot go on (Redis lost, its threads broken): one line. */
  onFatal: (message: string) => void;
}

interface InHand {
  readonly job: Job;
  readonly request: BatchRequest;
  sent?: string;
}

export class RedisWorker {
  private readonly target: RedisTarget;
  private readonly prefix: string;
  private readonly lockMs: number;
  private readonly lostMs: number;
  private readonly pool: PiscinaExecutor;
  private client: Redis | undefined;
  private subscriber: Redis | undefined;
  private readonly served = new Map<string, Worker>();
  private readonly refused = new Set<string>();
  private readonly inHand = new Set<InHand>();
  private readonly timers: NodeJS.Timeout[] = [];
  private stopping = false;
  private fatal = false;
  /** Batches this process has run (stored), for its closing line and the tests. */
  done = 0;
  readonly name = `${hostname()}:${process.pid}`;

  constructor(private readonly options: RedisWorkerOptions) {
    this.target = parseRedisUrl(options.url);
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.lockMs = options.lockMs ?? DEFAULT_LOCK_MS;
    this.lostMs = options.lostMs ?? DEFAULT_LOST_MS;
    this.pool = new PiscinaExecutor({ workers: options.workers, workerMemoryMb: options.workerMemoryMb });
  }

  get threads(): number {
    return this.pool.size;
  }

  get shown(): string {
    return this.target.shown;
  }

  get batchesInHand(): number {
    return this.inHand.size;
  }

  private die(message: string): void {
    if (this.fatal) return;
    this.fatal = true;
    this.options.onFatal(message);
  }

  private connection() {
    return lastingOptions(this.target, this.lostMs, () => this.die(`lost Redis at ${this.target.shown}`));
  }

  /** Connects (rejects with one line if Redis cannot be reached or the threads cannot
   * start) and starts serving the registered sweeps. */
  async start(): Promise<void> {
    await probe(this.target);
    await this.pool.ready();
    const client = new Redis(this.connection());
    client.on('error', () => undefined);
    this.client = client;
    const subscriber = new Redis(this.connection());
    subscriber.on('error', () => undefined);
    this.subscriber = subscriber;
    const channel = keys(this.prefix).sweeps;
    subscriber.on('message', () => void this.refresh());
    await subscriber.subscribe(channel);
    await this.refresh();
    this.timers.push(setInterval(() => void this.refresh(), POLL_MS));
    this.timers.push(setInterval(() => void this.sendProgress(), PROGRESS_MS));
  }

  /** Serves the sweeps in the registry, leaves those gone from it. */
  private async refresh(): Promise<void> {
    if (this.stopping || this.fatal) return;
    let entries: Record<string, string>;
    try {
      entries = await this.client!.hgetall(keys(this.prefix).sweeps);
    } catch {
      return; // being retried; a lost Redis ends the worker
    }
    if (this.stopping) return;
    for (const [fp, text] of Object.entries(entries)) {
      if (this.served.has(fp) || this.refused.has(fp)) continue;
      let entry: Partial<SweepEntry>;
      try {
        entry = JSON.parse(text) as Partial<SweepEntry>;
      } catch {
        entry = {};
      }
      if (entry.v !== PROTOCOL_VERSION || entry.engine !== ENGINE_VERSION) {
        this.refused.add(fp);
        this.options.log(
          `worker: refusing sweep ${String(entry.name)} (${fp.slice(0, 12)}): engine ${String(entry.engine)}, protocol ${String(entry.v)}; this worker is engine ${ENGINE_VERSION}, protocol ${PROTOCOL_VERSION}`,
        );
        continue;
      }
      this.serve(fp, entry as SweepEntry);
    }
    for (const [fp, worker] of this.served)
      if (!(fp in entries)) {
        this.served.delete(fp);
        void worker.close();
      }
  }

  private serve(fp: string, entry: SweepEntry): void {
    this.options.log(`worker: serving sweep ${entry.name} (${fp.slice(0, 12)}, ${entry.runs} runs)`);
    const worker = new Worker<JobData, string>(fp, (job) => this.process(fp, job), {
      connection: bullmqOptions(this.connection()),
      prefix: this.prefix,
      name: this.name,
      concurrency: this.pool.size * JOBS_PER_THREAD,
      lockDuration: this.lockMs,
      stalledInterval: this.lockMs,
      maxStalledCount: MAX_STALLS,
    });
    // A job whose lock this worker lost (it was frozen, and the batch went elsewhere)
    // cannot be completed here: BullMQ says so, and the other worker's result counts.
    worker.on('error', () => undefined);
    this.served.set(fp, worker);
  }

  private async process(fp: string, job: Job<JobData, string>): Promise<string> {
    const data = job.data;
    let request: BatchRequest | undefined;
    try {
      request = decode<BatchRequest>(data.request);
    } catch {
      request = undefined;
    }
    if (data.engine !== ENGINE_VERSION || request?.v !== PROTOCOL_VERSION) {
      const line = `worker: refusing batch ${job.id} of engine ${String(data.engine)}, protocol ${String(request?.v)}; this worker is engine ${ENGINE_VERSION}, protocol ${PROTOCOL_VERSION}`;
      this.options.log(line);
      throw new UnrecoverableError(line);
    }
    const results = keys(this.prefix, fp).results;
    if (await this.client!.hexists(results, data.field)) return data.field;
    const hand: InHand = { job, request };
    this.inHand.add(hand);
    let text: string;
    try {
      text = encode(await this.pool.execute(request));
    } catch (e) {
      // Threads that cannot start make this process useless: leave, and let the
      // batch go to another worker once its lock expires.
      if (e instanceof ExecutorError) this.die(`worker: ${e.message}`);
      throw e;
    } finally {
      this.inHand.delete(hand);
    }
    await this.client!.hset(results, data.field, text);
    this.done++;
    return data.field;
  }

  /** Each batch in hand's run in progress, as its job's progress. */
  private async sendProgress(): Promise<void> {
    if (this.inHand.size === 0) return;
    const { runs } = await this.pool.progress();
    for (const hand of this.inHand) {
      const { first, count } = hand.request;
      const run: LiveRun | undefined = runs.find((r) => r.runId >= first && r.runId < first + count);
      if (!run) continue;
      const text = encode(run);
      if (text === hand.sent) continue;
      hand.sent = text;
      hand.job.updateProgress(text).catch(() => undefined);
    }
  }

  /** Takes no more batches, finishes those in hand, and disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.all([...this.served.values()].map((w) => w.close().catch(() => undefined)));
    this.served.clear();
    await this.pool.close();
    await Promise.all([this.client?.quit(), this.subscriber?.quit()].map((p) => p?.catch(() => undefined)));
  }

  /** Disconnects at once (after a fatal error): the jobs in hand go to others. */
  kill(): void {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.client?.disconnect();
    this.subscriber?.disconnect();
  }
}
