// ProcessGroup.split (MPI_Comm_split) with 2 and 4 ranks: collectives inside each sub-group, mixed
// with the world's; LocalGroup.split. The MPI cases are skipped, with the reason, without MPI.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalGroup } from "../../src/dist/index.js";
import { addonSkip, MPI_ENV_NO_CMA } from "../helpers/mpi.js";

const root = join(fileURLToPath(import.meta.url), "..", "..", "..");
const skip = addonSkip();
if (skip) console.log(`# split.test.ts skipped the MPI cases: ${skip}`);

function mpirun(np: number): { status: number | null; out: string } {
  const r = spawnSync("mpirun", ["-np", String(np), "--oversubscribe", process.execPath, "--import", "tsx", join("test", "dist", "fixtures", "split.ts")], {
    cwd: root, encoding: "utf8", timeout: 120_000, killSignal: "SIGTERM", maxBuffer: 16 << 20,
    env: MPI_ENV_NO_CMA,
  });
  return { status: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

for (const np of [2, 4]) {
  test(`split with ${np} ranks: contiguous and strided sub-groups, their collectives and the world's`, { skip }, () => {
    const r = mpirun(np);
    assert.equal(r.status, 0, r.out);
    for (const name of ["split-shape", "allreduce", "gathers", "async-mixed", "nested", "finalize"])
      for (let rank = 0; rank < np; rank++) assert.ok(r.out.includes(`PASS ${name} rank ${rank}\n`), `${name} on rank ${rank}:\n${r.out}`);
  });
}

test("LocalGroup.split returns a group of one process", () => {
  const g = new LocalGroup({ timeoutSeconds: 7 });
  const s = g.split(3, 1);
  assert.equal(s.worldSize, 1);
  assert.equal(s.rank, 0);
  assert.equal(s.timeoutMs, 7000);
  assert.notEqual(s, g);
  const x = Float32Array.of(2);
  s.allreduceSum(x);
  assert.equal(x[0], 2);
  assert.throws(() => g.split(-1, 0), /color must be an integer >= 0/);
});
