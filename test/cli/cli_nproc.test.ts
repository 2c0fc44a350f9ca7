// `peft-ts train --nproc_per_node 2` (the CLI starts mpirun itself) against one process with the
// same global batch: the same loss at every step and the same adapter (dropout off), and only
// rank 0 writes the run's files. Needs OpenMPI and the MPI addon; without them the test says why
// and is skipped (never counted as passed).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bertTinyNoDropout, adapterMaxDiff, loggedLosses as losses, loraTrainArgv, ROOT, writeSst2Split } from "./helpers.js";
import { whyNoMpi } from "../helpers/mpi.js";

const why = whyNoMpi();

let tmp: string;
let model: string;
let trainTsv: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "peft-ts-cli-nproc-"));
  model = bertTinyNoDropout(tmp);
  ({ trainTsv } = writeSst2Split(tmp, 32, 0));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function train(out: string, extra: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, loraTrainArgv(model, trainTsv, out, extra), { cwd: ROOT, encoding: "utf8", timeout: 240_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("train --nproc_per_node 2 × batch 4 = one process × batch 8: same losses and adapter; rank 0 writes", { skip: why ?? false }, () => {
  const one = join(tmp, "one"), two = join(tmp, "two");
  const a = train(one, ["--per_device_train_batch_size", "8"]);
  assert.equal(a.code, 0, a.stderr);
  const b = train(two, ["--per_device_train_batch_size", "4", "--nproc_per_node", "2"]);
  assert.equal(b.code, 0, `${b.stderr}\n${b.stdout.slice(-2000)}`);
  // rank 0 alone reports: each stage line once
  assert.equal(b.stdout.split("\n").filter((l) => l.startsWith("==> training")).length, 1, b.stdout);
  const la = losses(one), lb = losses(two);
  assert.equal(la.length, 3);
  assert.equal(lb.length, 3, "one log entry per step (rank 0 only)");
  la.forEach((v, i) => assert.ok(Math.abs(v - lb[i]) < 1e-5, `step ${i + 1}: loss ${lb[i]} with 2 ranks vs ${v}`));
  const worst = adapterMaxDiff(one, two);
  assert.ok(worst < 1e-5, `adapter tensors differ by up to ${worst}`);
  console.log(`# 2 ranks vs 1 process: max |Δloss| ${Math.max(...la.map((v, i) => Math.abs(v - lb[i]))).toExponential(2)}, max |Δadapter| ${worst.toExponential(2)}`);
});

test("train --nproc_per_node 2 --peft adalora: the budget schedule spans the run's steps over both ranks", { skip: why ?? false }, () => {
  const out = join(tmp, "adalora");
  // 32 rows, 2 ranks × batch 4, one epoch: 4 optimizer steps (8 with one rank and the same per-device batch)
  const r = train(out, ["--per_device_train_batch_size", "4", "--nproc_per_node", "2", "--peft", "adalora", "--max_steps=-1", "--num_train_epochs", "1", "--init_r", "4", "--target_r", "2"]);
  assert.equal(r.code, 0, `${r.stderr}\n${r.stdout.slice(-2000)}`);
  const ac = JSON.parse(readFileSync(join(out, "adapter_config.json"), "utf8"));
  assert.equal(ac.peft_type, "ADALORA");
  assert.equal(ac.total_step, 4);
});
