/**
 * The child-process executor: batches run in child processes, and every message
 * both ways is text, through `codec.ts` (JSON with NaN, ±Inf, −0 and typed arrays
 * kept). Nothing is shared: each child resolves the problem's data itself from the
 * request's descriptor, as a machine on a queue would. It exists to hold the
 * executor boundary to its promise (the tests run sweeps through it and compare the
 * CSV with the thread pool's) and runs batches for real, one per child at a time.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { NO_TRAP_HANDLER, trapHandlerOff } from '../relaunch.js';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { decode, encode } from '../codec.js';
import { ExecutorError, type Executor } from '../executor.js';
import { ROOT } from '../paths.js';
import { checkVersion, type BatchRequest, type LiveRun, type Progress } from '../protocol.js';
import type { ResultBatch } from '../results.js';
import type { ChildMessage } from './child-messages.js';

export const CHILD_FILE = join(ROOT, 'dist', 'workers', 'child-worker.js');

export interface ChildOptions {
  /** Child processes; default: the available cores. */
  workers?: number;
  /** Heap limit of each child, MiB. */
  workerMemoryMb?: number;
}

interface Pending {
  readonly id: number;
  /** With the batch's records; with nothing for a ping. */
  readonly resolve: (r: ResultBatch | undefined) => void;
  readonly reject: (e: Error) => void;
}

class Child {
  readonly process: ChildProcess;
  readonly pending = new Map<number, Pending>();
  live: LiveRun | undefined;
  exited = false;

  constructor(execArgv: string[], onExit: (child: Child, why: string) => void) {
    this.process = fork(CHILD_FILE, [], { execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.process.on('message', (text: unknown) => this.receive(String(text)));
    this.process.on('exit', (code, signal) => {
      this.exited = true;
      onExit(this, signal ? `killed by ${signal}` : `exited with code ${code}`);
    });
    this.process.on('error', (e) => onExit(this, e.message));
  }

  private receive(text: string): void {
    const message = decode<ChildMessage>(text);
    checkVersion(message, 'a message from a child process');
    if (message.kind === 'progress') {
      this.live = message.run ?? undefined;
      return;
    }
    if (message.kind !== 'result' && message.kind !== 'failed' && message.kind !== 'pong') return;
    const p = this.pending.get(message.id);
    if (!p) return;
    this.pending.delete(message.id);
    if (this.pending.size === 0) this.live = undefined;
    if (message.kind === 'failed')
      p.reject(message.fatal ? new ExecutorError(message.error) : new Error(message.error));
    else p.resolve(message.kind === 'result' ? message.result : undefined);
  }

  send(message: ChildMessage): void {
    this.process.send(encode(message));
  }
}

export class ChildProcessExecutor implements Executor {
  readonly size: number;
  private readonly children: Child[] = [];
  private readonly execArgv: string[];
  private nextId = 0;
  private closing = false;

  constructor(options: ChildOptions = {}) {
    this.size = options.workers ?? availableParallelism();
    this.execArgv = [
      ...(options.workerMemoryMb ? [`--max-old-space-size=${options.workerMemoryMb}`] : []),
      // Under an address-space limit, as this process (relaunch.ts).
      ...(trapHandlerOff() ? [NO_TRAP_HANDLER] : []),
    ];
    for (let i = 0; i < this.size; i++) this.children.push(this.spawn());
  }

  private spawn(): Child {
    return new Child(this.execArgv, (child, why) => {
      const at = this.children.indexOf(child);
      for (const p of child.pending.values()) p.reject(new Error(`child process ${why}`));
      child.pending.clear();
      // A child that dies takes its batches with it; a new one takes its place.
      if (at >= 0 && !this.closing) this.children[at] = this.spawn();
    });
  }

  async ready(): Promise<void> {
    try {
      await Promise.all(
        this.children.map(
          (child) =>
            new Promise<void>((resolve, reject) => {
              const id = this.nextId++;
              child.pending.set(id, { id, resolve: () => resolve(), reject });
              child.send({ v: 1, kind: 'ping', id });
            }),
        ),
      );
    } catch (e) {
      throw new ExecutorError(`child processes cannot start: ${(e as Error).message}`);
    }
  }

  capacity(): number {
    return this.size * 2;
  }

  execute(request: BatchRequest): Promise<ResultBatch> {
    const child = this.children.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.nextId++;
    return new Promise<ResultBatch>((resolve, reject) => {
      child.pending.set(id, { id, resolve: (r) => resolve(r!), reject });
      child.send({ v: 1, kind: 'run', id, request });
    });
  }

  progress(): Promise<Progress> {
    const runs = this.children.flatMap((c) => (c.live ? [c.live] : []));
    return Promise.resolve({ runs, workers: this.children.filter((c) => !c.exited).length });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exited) return resolve();
            c.process.once('exit', () => resolve());
            c.process.kill();
          }),
      ),
    );
  }
}
