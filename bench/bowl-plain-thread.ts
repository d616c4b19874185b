/**
 * Runs the plain loop (bowl-plain.ts) in a thread of its own, so that its garbage
 * does not land in the coordinator's heap between the sweeps it is compared with.
 * The thread stays for every repeat (its code warm, as the pool's threads are).
 */
import { parentPort } from 'node:worker_threads';
import { plainSweep, type PlainGrid } from './bowl-plain.js';

parentPort!.on('message', ({ grid, out }: { grid: PlainGrid; out: string }) => {
  const started = performance.now();
  const runs = plainSweep(grid, out);
  parentPort!.postMessage({ runs, ms: performance.now() - started });
});
