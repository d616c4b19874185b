/**
 * The worker entry: the only code that runs inside a pool thread. It adapts a task
 * (a batch and a lane of shared memory) to `runBatch`, and reports live progress
 * into the lane.
 */
import { runBatch, type BatchLive } from '../src/batch.js';
import { LIVE, type BatchResult, type Task } from '../src/protocol.js';

export default function runTask({ batch, lane }: Task): BatchResult {
  const ints = new Int32Array(lane.progress);
  const floats = new Float64Array(lane.progress);
  const live: BatchLive = {
    begin(runId) {
      ints[LIVE.STEP] = 0;
      Atomics.store(ints, LIVE.RUN, runId);
    },
    step(step, loss) {
      floats[LIVE.LOSS] = loss;
      ints[LIVE.STEP] = step;
    },
    end() {
      Atomics.store(ints, LIVE.RUN, -1);
    },
  };
  // The result arrays are a few bytes per run: cloning them back is cheaper than
  // the bookkeeping of transferring them.
  return runBatch(batch, lane.memory, live);
}

/** Answers the pool's start-up check: reaching here means this file loaded. */
export function ping(): boolean {
  return true;
}
