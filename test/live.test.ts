/**
 * Live progress through the executor interface: the piscina executor reads each
 * running run's step and loss from the shared memory the worker writes, without
 * messages; the child-process executor hears it in messages, as a remote one would.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { createExecutor, EXECUTOR_NAMES } from '../src/executors/index.js';
import type { LiveRun } from '../src/protocol.js';
import { runSweep } from '../src/sweep.js';

const plan = parseConfig(
  JSON.stringify({
    name: 'live',
    problem: { name: 'quadratic', dim: 20_000, condition: 10 },
    optimizers: ['sgd', 'adam'],
    lr: [0.01, 0.02],
    steps: 3000,
  }),
  'live.json',
);
// The redis executor needs a server and worker processes: its live progress is
// tested in redis.test.ts.
const LOCAL = EXECUTOR_NAMES.filter((name) => name !== 'redis');
describe.each(LOCAL)('live progress from the %s executor', (name) => {
  const executor = createExecutor(name, { workers: 2 });
  afterAll(() => executor.close());

  it('shows the runs in progress, their step advancing, while the sweep runs; nothing after', async () => {
    await executor.ready();
    const seen: (readonly LiveRun[])[] = [];
    let done = false;
    const sweep = runSweep(plan, { executor, consumers: [] }).finally(() => (done = true));
    while (!done) {
      const progress = await executor.progress();
      expect(progress.workers).toBe(2);
      seen.push(progress.runs);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const summary = await sweep;
    expect(summary.runs).toBe(plan.total);

    const snapshots = seen.flat();
    expect(snapshots.length).toBeGreaterThan(0);
    for (const r of snapshots) {
      expect(r.runId).toBeGreaterThanOrEqual(0);
      expect(r.runId).toBeLessThan(plan.total);
      expect(r.step).toBeGreaterThanOrEqual(0);
      expect(r.step).toBeLessThanOrEqual(plan.steps);
      expect(Number.isFinite(r.loss)).toBe(true);
    }
    // Some run was seen at two different steps: the coordinator watched it move.
    const steps = new Map<number, Set<number>>();
    for (const r of snapshots) steps.set(r.runId, (steps.get(r.runId) ?? new Set()).add(r.step));
    expect([...steps.values()].some((s) => s.size > 1)).toBe(true);
    expect((await executor.progress()).runs).toEqual([]);
  });
});
