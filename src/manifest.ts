/**
 * The manifest, `<csv>.sweep.json` beside every results CSV: what makes the CSV
 * readable on its own. It records the validated plan as a config (`planConfig`), a
 * fingerprint of the plan, the engine's version, the CSV's columns, what of the CSV
 * is durable (its length and digest, at the last sync) and whether the sweep
 * completed. It stays out of the CSV, so that spreadsheets open the CSV as is,
 * and is replaced whole (write, then rename), never seen half-written.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configPlan, planConfig } from './config/load.js';
import { OutputError, UsageError } from './errors.js';
import type { Durable } from './integrity.js';
import type { Plan } from './grid.js';
import { ROOT } from './paths.js';

/** 1: fingerprint, name, runs, complete. 2: also engine, config, columns, curves.
 * 3: also durable, rewritten at every sync (none yet: nothing is vouched for). */
export const MANIFEST_FORMAT = 3;

/** This engine's version (package.json). */
export const ENGINE_VERSION: string = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

export interface Manifest {
  format: number;
  engine: string;
  /** sha256 of the plan: the same config gives the same fingerprint. */
  fingerprint: string;
  name: string;
  runs: number;
  complete: boolean;
  /** The plan as a config (`planConfig`). */
  config: Record<string, unknown>;
  /** The CSV's header. */
  columns: string[];
  /** The curves file written beside it, if any, and its resolution. */
  curves?: { file: string; every: number };
  /** The process writing the CSV, while one is (removed when it closes the file):
   * a reader can tell a sweep still running from one that stopped. */
  writer?: { pid: number };
  /** The CSV's prefix known to be on disk, to check it on resume (integrity.ts). */
  durable?: Durable;
}

export const manifestPath = (csv: string): string => `${csv}.sweep.json`;
/** Where a new manifest is written before it replaces the old one. */
export const manifestTempPath = (csv: string): string => `${manifestPath(csv)}.tmp`;

export function fingerprint(plan: Plan): string {
  return createHash('sha256').update(JSON.stringify(plan)).digest('hex');
}

export function newManifest(plan: Plan, columns: readonly string[], curves?: Manifest['curves']): Manifest {
  return {
    format: MANIFEST_FORMAT,
    engine: ENGINE_VERSION,
    fingerprint: fingerprint(plan),
    name: plan.name,
    runs: plan.total,
    complete: false,
    config: planConfig(plan),
    columns: [...columns],
    ...(curves && { curves }),
    writer: { pid: process.pid },
  };
}

/** Whether the manifest's writer is a live process: the sweep is still running. (A
 * writer killed with SIGKILL leaves its pid behind; a pid reused since then by
 * another process reads as running, until that process ends.) */
export function stillRunning(manifest: Manifest): boolean {
  const pid = manifest.writer?.pid;
  if (manifest.complete || !Number.isInteger(pid) || pid === process.pid) return false;
  try {
    process.kill(pid!, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function writeManifest(csv: string, manifest: Manifest): Promise<void> {
  try {
    await writeFile(manifestTempPath(csv), `${JSON.stringify(manifest, null, 2)}\n`);
    await rename(manifestTempPath(csv), manifestPath(csv));
  } catch (e) {
    await rm(manifestTempPath(csv), { force: true }).catch(() => undefined);
    throw new OutputError(`cannot write the manifest ${manifestPath(csv)} (${(e as NodeJS.ErrnoException).code})`);
  }
}

/** The manifest beside `csv`; undefined when there is none. Throws `UsageError`
 * (naming `what`) when it is there but unreadable or not a manifest. */
export async function readManifest(csv: string, what: string): Promise<Manifest | undefined> {
  const path = manifestPath(csv);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new UsageError(`${what}: cannot read its manifest ${path} (${code})`);
  }
  let m: Partial<Manifest> | null;
  try {
    m = JSON.parse(text) as Partial<Manifest> | null;
  } catch {
    throw new UsageError(`${what}: its manifest ${path} is not valid JSON (torn or edited)`);
  }
  if (typeof m !== 'object' || m === null || typeof m.fingerprint !== 'string' || typeof m.format !== 'number')
    throw new UsageError(`${what}: ${path} is not a sweep manifest (no format or fingerprint)`);
  return m as Manifest;
}

/** The plan a manifest records, as this engine reads its config (importing the
 * problem module it names, if any). */
export async function manifestPlan(manifest: Manifest, csv: string): Promise<Plan> {
  if (manifest.format < 2 || !manifest.config)
    throw new UsageError(
      `${csv}: its manifest is of format ${manifest.format}, written by an older sweep, and records no config; read it with the config that wrote it`,
    );
  if (manifest.format > MANIFEST_FORMAT)
    throw new UsageError(
      `${csv}: its manifest is of format ${manifest.format}, newer than this engine reads (${MANIFEST_FORMAT}; engine ${ENGINE_VERSION}); upgrade sweep`,
    );
  return configPlan(manifest.config, manifestPath(csv), { maxRuns: Number.MAX_SAFE_INTEGER });
}

/** Whether the manifest was written by the same plan as `plan`: compared as plans
 * of this engine (re-reading the recorded config), so that a field added to the
 * engine since, with its default, does not tell two equal sweeps apart. */
export async function samePlan(manifest: Manifest, plan: Plan, csv: string): Promise<boolean> {
  if (manifest.format >= 2 && manifest.config)
    return fingerprint(await manifestPlan(manifest, csv)) === fingerprint(plan);
  return manifest.fingerprint === fingerprint(plan);
}
