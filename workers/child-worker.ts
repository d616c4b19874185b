/**
 * The child-process executor's worker (src/executors/child.ts): reads requests as
 * JSON text (codec.ts) from its parent, loads each problem's code (a user's module)
 * and resolves its data itself, runs the batch and answers with its records, as
 * JSON text too.
 */
import { runBatch, runBytes, type BatchLive } from '../src/batch.js';
import { decode, encode } from '../src/codec.js';
import type { ChildMessage } from '../src/executors/child-messages.js';
import { KERNEL_HEAP_BASE, createSharedMemory, type KernelMemory } from '../src/kernels/index.js';
import { PROTOCOL_VERSION, checkVersion, loadProblemCode, resolveData, unloadable } from '../src/protocol.js';

/** Live progress goes to the parent at most this often. */
const PROGRESS_MS = 20;

const send = (message: ChildMessage): void => void process.send!(encode(message));
const data = new Map<string, unknown>();
let memory: KernelMemory | undefined;

function memoryFor(bytes: number): KernelMemory {
  if (!memory || memory.buffer.byteLength - KERNEL_HEAP_BASE < bytes) memory = createSharedMemory(bytes);
  return memory;
}

let last = 0;
let current = -1;
const live: BatchLive = {
  begin(runId) {
    current = runId;
  },
  step(step, loss) {
    const now = performance.now();
    if (now - last < PROGRESS_MS) return;
    last = now;
    send({ v: PROTOCOL_VERSION, kind: 'progress', run: { runId: current, step, loss } });
  },
  end() {
    send({ v: PROTOCOL_VERSION, kind: 'progress', run: null });
  },
};

// Requests are handled one at a time, in the order they came.
let queue = Promise.resolve();
process.on('message', (text: unknown) => {
  queue = queue.then(() => handle(String(text)));
});

async function handle(text: string): Promise<void> {
  const message = decode<ChildMessage>(text);
  checkVersion(message, 'a message from the coordinator');
  if (message.kind === 'ping') return send({ v: PROTOCOL_VERSION, kind: 'pong', id: message.id });
  if (message.kind !== 'run') return;
  const { id, request } = message;
  try {
    await loadProblemCode(request.plan.problem);
  } catch (e) {
    return send({ v: PROTOCOL_VERSION, kind: 'failed', id, error: unloadable(request.plan.problem, e), fatal: true });
  }
  try {
    const key = JSON.stringify(request.plan.problem);
    if (!data.has(key)) data.set(key, await resolveData(request.plan.problem));
    const result = runBatch(request, data.get(key), memoryFor(runBytes(request.plan.problem)), live);
    send({ v: PROTOCOL_VERSION, kind: 'result', id, result });
  } catch (e) {
    send({ v: PROTOCOL_VERSION, kind: 'failed', id, error: e instanceof Error ? e.message : String(e) });
  }
}

process.on('disconnect', () => process.exit(0));
