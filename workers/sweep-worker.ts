/**
 * The piscina worker entry: the only code that runs inside a pool thread. It loads
 * the problem's code (a user's module) on the thread's first task, adapts a task (a
 * request, the problem's shared data and a lane of shared memory) to `runBatch`, and
 * reports live progress into the lane.
 */
import { runBatch, type BatchLive } from '../src/batch.js';
import { LIVE, type Task, type TaskReply } from '../src/executors/piscina-lane.js';
import { loadProblemCode, unloadable } from '../src/protocol.js';
import type { ResultBatch } from '../src/results.js';

export default function runTask(task: Task): TaskReply | Promise<TaskReply> {
  const { problem } = task.request.plan;
  const loading = loadProblemCode(problem);
  if (!loading) return run(task);
  return loading.then(
    () => run(task),
    (e: unknown) => ({ unloadable: unloadable(problem, e) }),
  );
}

function run({ request, data, lane }: Task): ResultBatch {
  const ints = new Int32Array(lane.progress);
  const floats = new Float64Array(lane.progress);
  const live: BatchLive = {
    begin(runId) {
      ints[LIVE.STEP_I32] = 0;
      Atomics.store(ints, LIVE.RUN_I32, runId);
    },
    step(step, loss) {
      floats[LIVE.LOSS_F64] = loss;
      ints[LIVE.STEP_I32] = step;
    },
    end() {
      Atomics.store(ints, LIVE.RUN_I32, -1);
    },
  };
  // The result columns are a few bytes per run: cloning them back is cheaper than
  // the bookkeeping of transferring them.
  return runBatch(request, data, lane.memory, live);
}

/** Answers the pool's start-up check: reaching here means this file loaded. */
export function ping(): boolean {
  return true;
}
