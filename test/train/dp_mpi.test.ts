// DP-SGD over real MPI data parallelism (`mpirun -np 2`, the ddp_child.ts fixture): every rank
// draws the same Poisson sample and clips its share per example before the one allreduce; rank 0
// alone adds the noise. 2 ranks × batch 2 equal 1 process × batch 4 for σ = 0 (ghost on the ranks,
// explicit flat in one process) and for σ > 0 with the same seeded noise, which only holds if the
// noise is added once (not once per rank: that would double its variance); rank 1 draws none.
// Without mpirun or the MPI addon every test prints why and is skipped (never passed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { mpiEnv, runDdpChild, whyNoMpi } from "../helpers/mpi.js";
import { tmp } from "../peft/helpers.js";

const ENV = mpiEnv({ OMPI_MCA_rmaps_base_oversubscribe: "1" });
const NO_MPI = whyNoMpi(ENV);
if (NO_MPI) console.log(`# dp_mpi: skipping the MPI tests: ${NO_MPI}`);

interface Result { worldSize: number; losses: Record<string, number>; adapter: Record<string, number[]>; noiseDraws: number; epsilon: number; trainableTensors: number }

function run(np: number, opts: Record<string, unknown>): { rank0: Result; rank1: Result | null } {
  const result = join(tmp("peft-dp-mpi-"), "result.json");
  const { status, out } = runDdpChild(np, { out: tmp(), maxSteps: 4, lr: 0.01, ...opts, result }, ENV);
  assert.equal(status, 0, `${np}-process run exited ${status}\n${out}`);
  const read = (p: string) => JSON.parse(readFileSync(p, "utf8")) as Result;
  return { rank0: read(result), rank1: np > 1 ? read(result + ".rank1") : null };
}

function adapterDiff(a: Result, b: Result): number {
  assert.deepEqual(Object.keys(a.adapter).sort(), Object.keys(b.adapter).sort());
  let d = 0;
  for (const [k, v] of Object.entries(a.adapter)) v.forEach((x, i) => { d = Math.max(d, Math.abs(x - b.adapter[k][i])); });
  return d;
}

test("DP-SGD σ = 0: 2 ranks × batch 2 (ghost clipping) train like 1 process × batch 4 (explicit flat clipping)", { skip: NO_MPI ?? false }, () => {
  const one = run(1, { perDevice: 4, dp: { sigma: 0 } }).rank0;
  const two = run(2, { perDevice: 2, dp: { sigma: 0, clipping: "ghost" } });
  assert.equal(two.rank0.worldSize, 2);
  const d = adapterDiff(one, two.rank0);
  console.log(`# dp_mpi σ = 0: max |Δadapter| ${d.toExponential(2)}`);
  assert.ok(d < 1e-5, `adapter diff ${d}`);
  assert.equal(adapterDiff(two.rank0, two.rank1!), 0, "both ranks hold the same weights");
  for (const s of ["1", "2", "3", "4"]) assert.ok(Math.abs(one.losses[s] - two.rank0.losses[s]) < 1e-5, `step ${s} loss ${one.losses[s]} vs ${two.rank0.losses[s]}`);
});

test("DP-SGD σ = 1: the noise is added once (rank 0), so 2 ranks equal 1 process with the same seeded noise; ε is the same", { skip: NO_MPI ?? false }, () => {
  const dp = { sigma: 1, noiseSeed: 5 };
  const one = run(1, { perDevice: 4, dp }).rank0;
  const two = run(2, { perDevice: 2, dp });
  const d = adapterDiff(one, two.rank0);
  console.log(`# dp_mpi σ = 1: max |Δadapter| ${d.toExponential(2)}`);
  assert.ok(d < 1e-5, `adapter diff ${d}`);
  assert.equal(one.noiseDraws, 4 * one.trainableTensors, "one draw per trainable tensor and step");
  assert.equal(two.rank0.noiseDraws, 4 * one.trainableTensors);
  assert.equal(two.rank1!.noiseDraws, 0, "rank 1 adds no noise");
  assert.equal(two.rank0.epsilon, one.epsilon);
  assert.equal(two.rank1!.epsilon, one.epsilon);
});
