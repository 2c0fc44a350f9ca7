// What the tests that start `mpirun` share: the environment (OpenMPI refuses to run as root
// without the two ALLOW variables) and the reason, if any, that the MPI tests are skipped.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
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

/**
 * The ddp_child.ts fixture (test/train/fixtures) with `spec` on `np` processes (1: plain node, else
 * mpirun), bounded by 3 minutes; its exit status and combined output (throws if it did not finish).
 */
export function runDdpChild(np: number, spec: Record<string, unknown>, env: NodeJS.ProcessEnv): { status: number | null; out: string } {
  const child = join(import.meta.dirname, "..", "train", "fixtures", "ddp_child.ts");
  const node = [process.execPath, "--import", "tsx", child, JSON.stringify(spec)];
  const r = np === 1
    ? spawnSync(node[0], node.slice(1), { encoding: "utf8", env, timeout: 180_000 })
    : spawnSync("mpirun", ["-np", String(np), "--oversubscribe", ...node], { encoding: "utf8", env, timeout: 180_000 });
  const out = `${r.stdout}\n${r.stderr}`;
  if (r.error) throw new Error(`${np}-process run failed to finish: ${r.error.message}\n${out}`);
  return { status: r.status, out };
}
