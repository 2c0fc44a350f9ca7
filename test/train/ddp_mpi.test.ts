// Data parallelism over real MPI: `mpirun -np 2` ranks with per-device batch b against one
// process with batch 2b (same losses and adapter within 1e-5), a 2-rank checkpoint resumed on 1
// and on 2 processes, a 1-process checkpoint resumed on 2, the uneven last batch (HF/accelerate
// padding, drop_last) and the start-up mismatch error.
// Without mpirun or the MPI addon every test prints why and is skipped (never passed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { mpiEnv, runDdpChild, whyNoMpi } from "../helpers/mpi.js";
import { tmp } from "../peft/helpers.js";
import type { DdpStepStats } from "../../src/train/ddp_grads.js";

const ENV = mpiEnv({ OMPI_MCA_rmaps_base_oversubscribe: "1" });
const NO_MPI = whyNoMpi(ENV);
if (NO_MPI) console.log(`# ddp_mpi: skipping the MPI tests: ${NO_MPI}`);

interface Result {
  worldSize: number; losses: Record<string, number>; adapter: Record<string, number[]>; metrics: Record<string, number>;
  ddpStats?: DdpStepStats[]; trainableFloats?: number; stepMs?: number[];
}

/** Runs the fixture on `np` processes (1: plain node); returns rank 0's result. Bounded in time. */
function run(np: number, opts: Record<string, unknown>, expectFail = false): { result: Result | null; out: string } {
  const result = (opts.result as string | undefined) ?? join(tmp("peft-ddp-res-"), "result.json");
  const { status, out } = runDdpChild(np, { ...opts, result }, ENV);
  if (expectFail) {
    assert.notEqual(status, 0, `expected the ${np}-process run to fail\n${out}`);
    return { result: null, out };
  }
  assert.equal(status, 0, `${np}-process run exited ${status}\n${out}`);
  return { result: JSON.parse(readFileSync(result, "utf8")) as Result, out };
}

function maxDiff(a: Result, b: Result, steps: number[]): { loss: number; adapter: number } {
  let loss = 0, adapter = 0;
  for (const s of steps) {
    assert.ok(a.losses[s] !== undefined && b.losses[s] !== undefined, `step ${s} logged in both runs`);
    loss = Math.max(loss, Math.abs(a.losses[s] - b.losses[s]));
  }
  assert.deepEqual(Object.keys(a.adapter).sort(), Object.keys(b.adapter).sort());
  for (const [k, v] of Object.entries(a.adapter)) v.forEach((x, i) => { adapter = Math.max(adapter, Math.abs(x - b.adapter[k][i])); });
  return { loss, adapter };
}

const STEPS = [1, 2, 3, 4, 5, 6];
let single: Result | null = null;

test("2 ranks × batch 2 train like 1 process × batch 4: losses, adapter and eval metrics", { skip: NO_MPI ?? false }, () => {
  single = run(1, { out: tmp(), perDevice: 4, maxSteps: 6 }).result!;
  const two = run(2, { out: tmp(), perDevice: 2, maxSteps: 6 }).result!;
  assert.equal(two.worldSize, 2);
  assert.equal(single.worldSize, 1);
  const d = maxDiff(single, two, STEPS);
  console.log(`# ddp_mpi equivalence: max |Δloss| ${d.loss.toExponential(2)}, max |Δadapter| ${d.adapter.toExponential(2)}`);
  assert.ok(d.loss < 1e-5 && d.adapter < 1e-5, JSON.stringify(d));
  assert.equal(two.metrics.eval_n, 7, "the eval set is gathered whole (7 rows, none twice)");
  assert.ok(Math.abs(two.metrics.eval_loss - single.metrics.eval_loss) < 1e-5);
  assert.equal(two.metrics.eval_accuracy, single.metrics.eval_accuracy);
});

test("with accumulation 2: 2 ranks × 1 × 2 micro-steps equal 1 process × batch 4", { skip: NO_MPI ?? false }, () => {
  const a = single ?? run(1, { out: tmp(), perDevice: 4, maxSteps: 6 }).result!;
  const two = run(2, { out: tmp(), perDevice: 1, ga: 2, maxSteps: 6 }).result!;
  const d = maxDiff(a, two, STEPS);
  assert.ok(d.loss < 1e-5 && d.adapter < 1e-5, JSON.stringify(d));
});

test("uneven last batch (9 rows, 2 ranks × 2): padded from the start as HF does, or dropped with dataloader_drop_last", { skip: NO_MPI ?? false }, () => {
  const nine = Array.from({ length: 9 }, (_, i) => i);
  const seq = { sequential: true, maxSteps: 6 }; // 3 steps an epoch without drop_last, 2 with: the epoch boundary is crossed
  // without drop_last, global batch 3 is row 8 then rows 0, 1, 2 again (rank 0: [8, 0], rank 1: [1, 2]):
  // one process over those 12 rows with batch 4 (DistributedSampler's interleaving would give [8], [0])
  const padded = run(1, { ...seq, out: tmp(), perDevice: 4, trainRows: [...nine, 0, 1, 2] }).result!;
  const two = run(2, { ...seq, out: tmp(), perDevice: 2, trainRows: nine }).result!;
  const d = maxDiff(padded, two, STEPS);
  console.log(`# ddp_mpi uneven tail: max |Δloss| ${d.loss.toExponential(2)}, max |Δadapter| ${d.adapter.toExponential(2)}`);
  assert.ok(d.loss < 1e-5 && d.adapter < 1e-5, JSON.stringify(d));
  // with drop_last both drop row 8: 2 ranks × 2 equal one process × 4 on the same 9 rows
  const drop = { sequential: true, maxSteps: 4, dropLast: true, trainRows: nine };
  const d1 = maxDiff(run(1, { ...drop, out: tmp(), perDevice: 4 }).result!, run(2, { ...drop, out: tmp(), perDevice: 2 }).result!, [1, 2, 3, 4]);
  console.log(`# ddp_mpi drop_last: max |Δloss| ${d1.loss.toExponential(2)}, max |Δadapter| ${d1.adapter.toExponential(2)}`);
  assert.ok(d1.loss < 1e-5 && d1.adapter < 1e-5, JSON.stringify(d1));
  assert.ok(Math.abs(padded.losses[3] - two.losses[3]) < 1e-5 && Math.abs(padded.losses[2] - padded.losses[3]) > 1e-4, "the padded batch differs from the others");
});

test("a 2-rank checkpoint resumes on 1 and on 2 processes; a 1-process one on 2", { skip: NO_MPI ?? false }, () => {
  const full = single ?? run(1, { out: tmp(), perDevice: 4, maxSteps: 6 }).result!;
  const out2 = tmp();
  run(2, { out: out2, perDevice: 2, maxSteps: 6, saveSteps: 3 });
  const ck2 = join(out2, "checkpoint-3");
  assert.ok(existsSync(join(ck2, "trainer_state.json")), "rank 0 wrote checkpoint-3");
  const on1 = run(1, { out: tmp(), perDevice: 4, maxSteps: 6, resume: ck2 }).result!;
  const on2 = run(2, { out: tmp(), perDevice: 2, maxSteps: 6, resume: ck2 }).result!;
  const out1 = tmp();
  run(1, { out: out1, perDevice: 4, maxSteps: 6, saveSteps: 3 });
  const from1 = run(2, { out: tmp(), perDevice: 2, maxSteps: 6, resume: join(out1, "checkpoint-3") }).result!;
  for (const [what, r] of [["2 → 1", on1], ["2 → 2", on2], ["1 → 2", from1]] as const) {
    const d = maxDiff(full, r, STEPS);
    console.log(`# ddp_mpi resume ${what}: max |Δloss| ${d.loss.toExponential(2)}, max |Δadapter| ${d.adapter.toExponential(2)}`);
    assert.ok(d.loss < 1e-5 && d.adapter < 1e-5, `${what}: ${JSON.stringify(d)}`);
  }
});

test("ranks with different arguments fail at start-up naming the field", { skip: NO_MPI ?? false }, () => {
  const { out } = run(2, { out: tmp(), perDevice: 2, maxSteps: 2, lr: 0.002, lrRank1: 0.001 }, true);
  assert.match(out, /DistributedError: .*rank 1's learning_rate \(0\.001\) differs from rank 0's \(0\.002\)/);
});

test("trainer.ddpStats(): bytes = trainable floats × 4 per step on both ranks, wait ≤ finish ≤ step, hidden share in [0, 1]", { skip: NO_MPI ?? false }, () => {
  const result = join(tmp("peft-ddp-res-"), "result.json");
  // bucket cap 1 MB: the classifier head + LoRA (~3k floats) still fit one bucket; 4 steps
  const { result: r0 } = run(2, { out: tmp(), perDevice: 2, maxSteps: 4, stats: true, bucketMb: 1, result });
  const r1 = JSON.parse(readFileSync(result + ".rank1", "utf8")) as Result;
  for (const [rank, r] of [[0, r0!], [1, r1]] as const) {
    const steps = r.ddpStats!;
    assert.equal(steps.length, 4, `rank ${rank}: one record per optimizer step`);
    assert.ok(r.trainableFloats! > 0);
    steps.forEach((s, i) => {
      const where = `rank ${rank} step ${i + 1}: ${JSON.stringify(s)}`;
      assert.equal(s.bytes, r.trainableFloats! * 4, where);
      assert.ok(s.buckets >= 1 && s.startedDuringBackward <= s.buckets, where);
      assert.ok(s.waitMs >= 0 && s.waitMs <= s.finishMs + 1e-6, where);
      assert.ok(s.finishMs + s.backwardMs <= r.stepMs![i] + 1e-6, `${where}; step ${r.stepMs![i]} ms`);
      assert.ok(s.collectiveMs !== null && s.collectiveMs >= 0 && s.collectiveMs <= r.stepMs![i], where);
      assert.ok(s.hiddenShare !== null && s.hiddenShare >= 0 && s.hiddenShare <= 1, where);
    });
  }
  console.log(`# ddp stats: ${r0!.trainableFloats} floats, step 4 rank 0: ${JSON.stringify(r0!.ddpStats![3])}`);
});
