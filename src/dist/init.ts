// One process group per process: the MPI group when mpirun started this process, the local
// (single-process) group otherwise. MPI is Node-only: the Node entry (src/node.ts) registers how
// an MPI group is made (mpi_addon.ts + mpi_group.ts); without it only world size 1 exists.
import { DistributedError } from "../tensor/errors.js";
import { envVar } from "../platform/env.js";
import { LocalGroup, type ProcessGroup } from "./process_group.js";
import { mpiLaunchEnv, MPI_INSTALL_HINT, type LaunchEnv } from "./launch_env.js";

/** How an MPI group is made here: load the addon (throws the reason), then build the group over it. */
export interface MpiConnector {
  loadAddon(): unknown;
  createGroup(addon: unknown, launch: LaunchEnv, opts: { timeoutMs: number }): ProcessGroup;
}

let mpi: MpiConnector | null = null;

export function registerMpiConnector(c: MpiConnector): void {
  mpi = c;
}

export interface InitDistributedOptions {
  /**
   * Deadline of every collective's wait, in seconds (HF TrainingArguments.ddp_timeout; default
   * PEFT_TS_DDP_TIMEOUT or 1800). A later call with this option set updates the group's deadline.
   */
  timeoutSeconds?: number;
}

let group: ProcessGroup | null = null;

function defaultTimeoutSeconds(): number {
  const env = Number(envVar("PEFT_TS_DDP_TIMEOUT"));
  return Number.isFinite(env) && env > 0 ? env : 1800;
}

/**
 * The process group of this run, created on the first call: MPI when the environment says mpirun
 * started this process (OMPI_COMM_WORLD_RANK / PMIX_RANK), the LocalGroup otherwise. Idempotent:
 * later calls return the same group. Throws a DistributedError when mpirun started us but the MPI
 * addon is missing or MPI fails to initialise.
 */
export function initDistributed(opts: InitDistributedOptions = {}): ProcessGroup {
  if (opts.timeoutSeconds !== undefined && !(opts.timeoutSeconds > 0))
    throw new DistributedError(`timeoutSeconds must be > 0, got ${opts.timeoutSeconds}`);
  if (group) {
    if (opts.timeoutSeconds !== undefined) group.timeoutMs = opts.timeoutSeconds * 1000;
    return group;
  }
  const timeoutSeconds = opts.timeoutSeconds ?? defaultTimeoutSeconds();
  const launch = mpiLaunchEnv();
  if (!launch) {
    group = new LocalGroup({ timeoutSeconds });
    return group;
  }
  let addon;
  try {
    if (!mpi) throw new Error("MPI is not available in this build (the Node entry, src/node.ts, registers it)");
    addon = mpi.loadAddon();
  } catch (e) {
    throw new DistributedError(
      `this process was started by mpirun (rank ${launch.rank}${launch.size !== null ? ` of ${launch.size}` : ""}) but ${(e as Error).message}; ` +
        `to run on MPI: ${MPI_INSTALL_HINT}`,
    );
  }
  group = mpi!.createGroup(addon, launch, { timeoutMs: timeoutSeconds * 1000 });
  return group;
}

/** The process group if one was created (null before the first initDistributed / getProcessGroup). */
export function activeProcessGroup(): ProcessGroup | null {
  return group;
}

/** The process group, created with the defaults (initDistributed()) when there is none yet. */
export function getProcessGroup(): ProcessGroup {
  return group ?? initDistributed();
}
