// Tensor parallelism with 2 ranks (mpirun -np 2 of fixtures under fixtures/, each bounded by a
// timeout). Skipped, with the reason, when mpirun or the MPI addon is missing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { mpiAvailable } from "../../src/dist/index.js";

const root = join(fileURLToPath(import.meta.url), "..", "..", "..");
const avail = mpiAvailable();
const skip = avail.ok ? false : `MPI unavailable: ${avail.why}`;
if (skip) console.log(`# tp.test.ts skipped: ${skip}`);

/** mpirun -np 2 of a fixture (extra args after it), killed after limitMs; its combined output. */
export function mpirun2(fixture: string, args: string[], limitMs: number): { status: number | null; out: string } {
  const r = spawnSync(
    "mpirun",
    ["-np", "2", "--oversubscribe", process.execPath, "--import", "tsx", join("test", "dist", "fixtures", `${fixture}.ts`), ...args],
    {
      cwd: root, encoding: "utf8", timeout: limitMs, killSignal: "SIGTERM", maxBuffer: 16 << 20,
      env: { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1", OMPI_MCA_btl_vader_single_copy_mechanism: "none" },
    },
  );
  return { status: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

test("region ops, vocab-parallel cross entropy and the parallel layers with 2 ranks match the single-process ops", { skip }, () => {
  const r = mpirun2("tp_ops", [], 120_000);
  assert.equal(r.status, 0, r.out);
  for (const name of ["region-ops", "vocab-parallel-ce", "parallel-layers"])
    for (const rank of [0, 1]) assert.ok(r.out.includes(`PASS ${name} rank ${rank}\n`), `${name} on rank ${rank}:\n${r.out}`);
});
