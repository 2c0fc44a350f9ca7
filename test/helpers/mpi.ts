// What the tests that start `mpirun` share: the environment (OpenMPI refuses to run as root
// without the two ALLOW variables) and the reason, if any, that the MPI tests are skipped.
import { spawnSync } from "node:child_process";
import { mpiAvailable } from "../../src/dist/mpi_addon.js";

/** process.env plus OpenMPI's run-as-root permission, then `extra`. */
export function mpiEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1", ...extra };
}

/** mpiEnv() without the shared-memory single-copy mechanism (CMA, refused in containers). */
export const MPI_ENV_NO_CMA = mpiEnv({ OMPI_MCA_btl_vader_single_copy_mechanism: "none" });

/** Why mpirun (under `env`) or the MPI addon is unusable; null when both are there. */
export function whyNoMpi(env: NodeJS.ProcessEnv = mpiEnv()): string | null {
  const v = spawnSync("mpirun", ["--version"], { encoding: "utf8", env, timeout: 20_000 });
  if (v.error || v.status !== 0) return `mpirun is not available (${v.error?.message ?? v.stderr.trim()})`;
  const a = mpiAvailable();
  return a.ok ? null : `the MPI addon is not available: ${a.why}`;
}

/** node:test's `skip` for the tests that need only the MPI addon: false, or why it is missing. */
export function addonSkip(): string | false {
  const avail = mpiAvailable();
  return avail.ok ? false : `MPI unavailable: ${avail.why}`;
}
