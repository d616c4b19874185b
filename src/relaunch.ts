/**
 * WebAssembly under an address-space limit (`ulimit -v`, common on shared clusters).
 * With V8's trap handler, every WebAssembly.Memory reserves 10 GiB of address space
 * (guard regions stand in for bounds checks), whatever its size: under a limit below
 * a few times that, no run can even allocate its memory. Without the trap handler, a
 * memory reserves its maximum only (the engine asks for what a run needs), at the cost
 * of explicit bounds checks, so the handler stays on where nothing limits the address
 * space. It is chosen when the process starts: under a limit, the CLI starts itself
 * again without it, passing the signals it gets on and exiting as its child does.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { createSharedMemory } from './kernels/index.js';

/** The Node option that turns the trap handler off (process-wide: worker threads
 * refuse it in their execArgv, child processes need it in theirs). */
export const NO_TRAP_HANDLER = '--disable-wasm-trap-handler';

/** Signals a sweep handles, passed on to the relaunched process. */
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Whether this process runs without the trap handler. */
export const trapHandlerOff = (): boolean => process.execArgv.includes(NO_TRAP_HANDLER);

/** The address-space limit (RLIMIT_AS, `ulimit -v`) in bytes: Infinity when there is
 * none, undefined where /proc does not say (not Linux). */
export function addressSpaceLimit(): number | undefined {
  try {
    const limit = /^Max address space\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (limit) return limit[1] === 'unlimited' ? Infinity : Number(limit[1]);
  } catch {
    // not Linux
  }
  return undefined;
}

/** Whether the address space is limited (elsewhere than Linux: whether a one-page
 * memory cannot be made). */
function addressSpaceLimited(): boolean {
  const limit = addressSpaceLimit();
  if (limit !== undefined) return limit !== Infinity;
  try {
    createSharedMemory(0);
    return false;
  } catch {
    return true;
  }
}

/**
 * Under an address-space limit, runs this very command again without the trap
 * handler and resolves to its exit code; undefined when there is no need (no limit,
 * or this is the relaunched process).
 */
export function relaunchIfLimited(): Promise<number> | undefined {
  if (trapHandlerOff()) {
    // The relaunched process: if its parent dies (SIGKILL), so does it.
    if (process.channel) {
      process.channel.unref();
      process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
    }
    return undefined;
  }
  if (!addressSpaceLimited()) return undefined;
  // Its own process group, so that a terminal's Ctrl-C reaches it once, through here.
  const child = spawn(process.execPath, [NO_TRAP_HANDLER, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    detached: true,
  });
  const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
  for (const s of FORWARDED) process.on(s, forward);
  return new Promise((resolve) => {
    child.on('error', () => resolve(1));
    child.on('exit', (code, signal) => {
      for (const s of FORWARDED) process.off(s, forward);
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}
