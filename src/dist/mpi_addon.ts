// Finds and loads the optional MPI addon (native/build/Release/peft_mpi.node, built by
// scripts/build-mpi.mjs when MPI is installed), and tells whether this process was started by mpirun.
import type { CommCounters } from "./process_group.js";
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The raw addon surface (see native/src/mpi/addon.cc); op ids are numbers. `comm` (default 0,
 * MPI_COMM_WORLD) names the communicator: ids of sub-communicators come from split/takeSplit.
 */
export interface MpiAddon {
  init(initTimeoutMs: number): { rank: number; size: number; threadLevel: number; funneled: boolean; version: string; promoted: string };
  allreduce(buf: Float32Array, comm?: number): number;
  bcast(buf: Uint8Array, root: number, comm?: number): number;
  allgather(send: Float32Array, recv: Float32Array, comm?: number): number;
  allgatherBytes(send: Uint8Array, comm?: number): number;
  reduceScatter(send: Float32Array, recv: Float32Array, comm?: number): number;
  /** MPI_Reduce_scatter with one count per rank (absent in addons built before it existed). */
  reduceScatterV?(send: Float32Array, recv: Float32Array, counts: Int32Array, comm?: number): number;
  barrier(comm?: number): number;
  /** MPI_Comm_split of `comm` (collective over it): the result comes from takeSplit after wait. */
  split(color: number, key: number, comm?: number): number;
  takeSplit(id: number): { comm: number; rank: number; size: number };
  finalize(): number;
  /** true: finished (throws the MPI error when it failed); false: the deadline passed (timeoutMs < 0: none). */
  wait(id: number, timeoutMs: number): boolean;
  test(id: number): boolean;
  takeBytes(id: number): { data: Uint8Array; counts: number[] };
  abort(message: string, code: number): never;
  state(): { ready: boolean; finalized: boolean; running: number; queued: number };
  /** Cumulative per-kind counters of the comm thread (absent in addons built before they existed). */
  counters?(): CommCounters;
}

import { MPI_INSTALL_HINT } from "./launch_env.js";

export { MPI_INSTALL_HINT, mpiLaunchEnv, type LaunchEnv } from "./launch_env.js";

/** Where the addon may live (PEFT_TS_MPI_ADDON names it explicitly). */
export function mpiAddonCandidates(): string[] {
  const explicit = process.env.PEFT_TS_MPI_ADDON;
  if (explicit) return [explicit];
  const out: string[] = [];
  let dir = dirname(fileURLToPath(import.meta.url));
  // walk up to the package root (src/dist under tsx, dist/src/dist when compiled)
  for (let i = 0; i < 6; i++) {
    out.push(join(dir, "native", "build", "Release", "peft_mpi.node"), join(dir, "native", "mpi", "build", "Release", "peft_mpi.node"));
    dir = dirname(dir);
  }
  return out;
}

export function findMpiAddon(): string | null {
  return mpiAddonCandidates().find((p) => existsSync(p)) ?? null;
}

let loaded: MpiAddon | null = null;
/** Loads the addon (once); throws with the reason when it is missing or does not load. */
export function loadMpiAddon(): MpiAddon {
  if (loaded) return loaded;
  const path = findMpiAddon();
  if (!path) {
    const where = process.env.PEFT_TS_MPI_ADDON ? `PEFT_TS_MPI_ADDON=${process.env.PEFT_TS_MPI_ADDON} does not exist` : "native/build/Release/peft_mpi.node was not built";
    throw new Error(`the MPI addon is missing (${where})`);
  }
  try {
    loaded = createRequire(import.meta.url)(path) as MpiAddon;
  } catch (e) {
    throw new Error(`loading the MPI addon ${path} failed: ${(e as Error).message}`);
  }
  return loaded;
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? "").split(delimiter).some((d) => d && existsSync(join(d, cmd)));
}

/** Whether multi-process runs can start here: mpirun on PATH and the addon built (for the CLI launcher and tests). */
export function mpiAvailable(): { ok: boolean; why?: string } {
  if (!onPath("mpirun")) return { ok: false, why: `mpirun is not on PATH (${MPI_INSTALL_HINT})` };
  if (!findMpiAddon()) {
    const what = process.env.PEFT_TS_MPI_ADDON ? `PEFT_TS_MPI_ADDON=${process.env.PEFT_TS_MPI_ADDON} does not exist` : "native/build/Release/peft_mpi.node is not built";
    return { ok: false, why: `${what} (${MPI_INSTALL_HINT})` };
  }
  return { ok: true };
}
