// Faults during training: non-finite losses and gradients (skip, log, stop after too many), an
// output folder that cannot be written (refused before training), a disk that fills up during a
// checkpoint save (typed error, nothing partial, the previous checkpoint intact, resume works).
// Tests that need a size-limited or read-only tmpfs mount say "cannot run here" and are reported
// as skipped (not passed) where mounting is impossible.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, symlinkSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Trainer, TrainingArguments, TrainingError, getLastCheckpoint } from "../../src/train/index.js";
import { cleanPartialCheckpoints } from "../../src/train/checkpoint.js";
import { ConfigError } from "../../src/tensor/errors.js";
import { Tensor } from "../../src/tensor/tensor.js";
import * as ops from "../../src/ops/index.js";
import { loadSafetensors } from "../../src/io/safetensors.js";
import { tmp } from "../peft/helpers.js";
import { TinyRegressor, regressionData, regressionCollator, paramsOf, maxDiff } from "./helpers.js";

function args(extra: Record<string, unknown> = {}): TrainingArguments {
  return TrainingArguments.fromDict({ output_dir: tmp("faults-"), disable_tqdm: true, save_strategy: "no", report_to: ["none"], learning_rate: 0.01, warmup_steps: 0, per_device_train_batch_size: 4, logging_steps: 1, ...extra });
}

/** A Trainer whose loss is `poison(step, loss, model)` (1-based step; one micro-batch per step). */
function poisoned(a: TrainingArguments, poison: (step: number, loss: Tensor, m: TinyRegressor) => Tensor, model = new TinyRegressor()): Trainer {
  let calls = 0;
  return new Trainer({
    model, args: a, trainDataset: regressionData(40), dataCollator: regressionCollator, trainSampler: "sequential",
    computeLoss: (m, inputs) => poison(++calls, (m as TinyRegressor).forward(inputs as any).loss!, m as TinyRegressor),
  });
}
const nanLoss = (loss: Tensor) => ops.mul(loss, Tensor.scalar(NaN));
/** Adds 0·√(0·w): the loss stays finite, the gradient of w is 0·∞ = NaN. */
const nanGrad = (loss: Tensor, m: TinyRegressor) => ops.add(loss, ops.mul(ops.sum(ops.pow(ops.mul(m.head.weight, Tensor.scalar(0)), Tensor.scalar(0.5))), Tensor.scalar(0)));

/** The parameters at the start of every step (index: step − 1). */
function recordParams(t: Trainer, model: TinyRegressor): Map<string, Float32Array>[] {
  const seen: Map<string, Float32Array>[] = [];
  t.callbacks.push({ onStepBegin: () => { seen.push(paramsOf(model)); } });
  return seen;
}

for (const [what, poison, reason] of [
  ["loss", (l: Tensor) => nanLoss(l), "training loss is NaN"],
  ["gradient", (l: Tensor, m: TinyRegressor) => nanGrad(l, m), "gradient norm is NaN"],
] as const) {
  test(`a NaN ${what} at one step: the optimizer step is skipped and logged, training goes on`, async () => {
    const model = new TinyRegressor();
    const t = poisoned(args({ max_steps: 5 }), (s, l, m) => (s === 3 ? poison(l, m) : l), model);
    const before = recordParams(t, model);
    const out = await t.train();
    assert.equal(out.globalStep, 5);
    const skips = t.state.logHistory.filter((e) => e.skipped_step);
    assert.deepEqual(skips.map((e) => [e.step, e.skip_reason, e.consecutive_skips]), [[3, reason, 1]]);
    // no update at step 3: step 4 starts from the parameters step 3 started from; others move
    assert.equal(maxDiff(before[2], before[3]), 0);
    assert.ok(maxDiff(before[1], before[2]) > 0 && maxDiff(before[3], before[4]) > 0);
    for (const [n, p] of paramsOf(model)) assert.ok(p.every(Number.isFinite), n);
    // AdamW counted 4 updates; the schedule did not advance for the skipped step
    for (const s of t.optimizer!.state.values()) assert.equal(s.step, 4);
    // the logged losses and train_loss stay finite (logging_nan_inf_filter)
    const losses = t.state.logHistory.filter((e) => "loss" in e).map((e) => e.loss as number);
    assert.equal(losses.length, 5);
    assert.ok(losses.every(Number.isFinite), String(losses));
    assert.ok(Number.isFinite(out.trainingLoss));
    if (what === "loss") assert.equal(losses[2], (losses[0] + losses[1]) / 2);
  });
}

test("more than max_nonfinite_skips non-finite steps in a row stop with a TrainingError naming the step and the last checkpoint", async () => {
  const a = args({ max_steps: 8, save_strategy: "steps", save_steps: 1 });
  assert.equal(a.maxNonfiniteSkips, 3);
  const t = poisoned(a, (s, l, m) => (s >= 3 ? (s % 2 ? nanLoss(l) : nanGrad(l, m)) : l));
  await assert.rejects(t.train(), (e: Error) => {
    assert.ok(e instanceof TrainingError, String(e));
    assert.equal(e.message.split(";")[0], "gradient norm is NaN at step 6 (epoch 1)");
    assert.match(e.message, /\(4 steps in a row; max_nonfinite_skips is 3\)/);
    // skipped steps still save on schedule (their weights are the last good ones)
    assert.ok(e.message.includes(`last good checkpoint: ${join(a.outputDir, "checkpoint-5")}`), e.message);
    return true;
  });
  // a NaN loss and a NaN gradient alternate: both count towards the same run of skips
  assert.deepEqual(t.state.logHistory.filter((e) => e.skipped_step).map((e) => e.consecutive_skips), [1, 2, 3]);
  assert.throws(() => args({ max_nonfinite_skips: -1 }), (e: Error) => e instanceof ConfigError && /max_nonfinite_skips must be a number >= 0/.test(e.message));
});

// ------------------------------------------------------------------ output folder, disk full

/** Mounts a tmpfs of `kb` KiB on a fresh folder; returns it, or why it cannot (not root, no mount). */
function mountTmpfs(kb: number): { dir: string } | { why: string } {
  const dir = mkdtempSync(join(tmpdir(), "faults-mnt-"));
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${kb}k`, "tmpfs", dir], { encoding: "utf8" });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { why: `cannot run here: mount -t tmpfs failed (${(r.stderr || r.error?.message || `status ${r.status}`).trim()})` };
  }
  return { dir };
}
function unmount(dir: string): void {
  spawnSync("umount", ["-l", dir]);
  rmSync(dir, { recursive: true, force: true });
}

test("output_dir is a file: refused before training starts, naming the folder and the reason", async () => {
  const file = join(tmp("faults-"), "out");
  writeFileSync(file, "x");
  let steps = 0;
  const t = new Trainer({ model: new TinyRegressor(), args: args({ output_dir: file, max_steps: 2 }), trainDataset: regressionData(8), dataCollator: regressionCollator, callbacks: [{ onStepBegin: () => void steps++ }] });
  await assert.rejects(t.train(), (e: Error) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.message, `output_dir '${file}' is a file, not a folder; choose a writable folder (checkpoints, logs and metrics go there)`);
    return true;
  });
  assert.equal(steps, 0);
});

test("output_dir on a read-only file system (EROFS): refused before training starts, for a new and an existing folder", async (t) => {
  const m = mountTmpfs(256);
  if ("why" in m) return t.skip(m.why);
  try {
    mkdirSync(join(m.dir, "existing"));
    const ro = spawnSync("mount", ["-o", "remount,ro", m.dir], { encoding: "utf8" });
    if (ro.status !== 0) return t.skip(`cannot run here: remount,ro failed (${ro.stderr.trim()})`);
    for (const [out, what] of [[join(m.dir, "existing"), "cannot write in the folder"], [join(m.dir, "new", "run"), "cannot create the folder"]]) {
      let steps = 0;
      const tr = new Trainer({ model: new TinyRegressor(), args: args({ output_dir: out, max_steps: 2 }), trainDataset: regressionData(8), dataCollator: regressionCollator, callbacks: [{ onStepBegin: () => void steps++ }] });
      await assert.rejects(tr.train(), (e: Error) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.equal(e.message, `output_dir '${out}': ${what}: the file system is read-only (EROFS); choose a writable folder (checkpoints, logs and metrics go there)`);
        return true;
      });
      assert.equal(steps, 0, out);
    }
  } finally {
    unmount(m.dir);
  }
});

test("output_dir in a folder without write permission (EACCES): refused before training starts, as an unprivileged user", (t) => {
  const parent = mkdtempSync(join(tmpdir(), "faults-perm-"));
  chmodSync(parent, 0o755);
  const locked = join(parent, "locked");
  mkdirSync(locked, { mode: 0o555 });
  chmodSync(locked, 0o555);
  try {
    const out = join(locked, "run");
    // root ignores permissions: the child runs as 'nobody' (65534) then
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const r = spawnSync(process.execPath, ["--import", "tsx", join(import.meta.dirname, "fixtures", "readonly_child.ts"), out], { cwd: join(import.meta.dirname, "..", ".."), encoding: "utf8", ...asUser });
    if (r.error || r.status !== 0) return t.skip(`cannot run here: the child as uid ${asUser.uid ?? process.getuid?.()} did not run (${(r.error?.message ?? r.stderr).trim().slice(0, 300)})`);
    assert.equal(r.stdout, `ConfigError: output_dir '${out}': cannot create the folder: permission denied (EACCES); choose a writable folder (checkpoints, logs and metrics go there)\nsteps 0\n`);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

/** Fills the file system holding dir (one file, written until ENOSPC); returns the file. */
function fillDisk(dir: string): string {
  const path = join(dir, "filler");
  const fd = openSync(path, "w");
  const chunk = new Uint8Array(4096);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
  } finally {
    closeSync(fd);
  }
  return path;
}

test("disk full during a checkpoint save: a TrainingError naming the folder and ENOSPC, no partial folder, the previous checkpoint intact; resume works once space is back", async (t) => {
  const m = mountTmpfs(1024);
  if ("why" in m) return t.skip(m.why);
  try {
    const out = join(m.dir, "run");
    const a = args({ output_dir: out, max_steps: 4, save_strategy: "steps", save_steps: 1 });
    const model = new TinyRegressor(3, { dropout: 0.1 });
    let filler = "";
    let atStep1: Map<string, Float32Array> | null = null;
    const tr = new Trainer({
      model, args: a, trainDataset: regressionData(16), dataCollator: regressionCollator,
      // the disk fills up after step 2's log, just before its checkpoint is written
      callbacks: [{ onLog: (e) => { if (e.state.globalStep === 2 && !filler) filler = fillDisk(m.dir); }, onSave: (e) => { if (e.state.globalStep === 1) atStep1 = paramsOf(model); } }],
    });
    await assert.rejects(tr.train(), (e: Error) => {
      assert.ok(e instanceof TrainingError, String(e));
      assert.match(e.message, new RegExp(`^checkpoint ${join(out, "checkpoint-2")} could not be written \\(.+\\): no space left on the device \\(ENOSPC\\); `));
      assert.ok(e.message.includes(`(latest: ${join(out, "checkpoint-1")})`), e.message);
      return true;
    });
    assert.deepEqual(readdirSync(out).sort(), ["checkpoint-1"]);
    assert.equal(getLastCheckpoint(out), join(out, "checkpoint-1"));
    const saved = loadSafetensors(join(out, "checkpoint-1", "model.safetensors"));
    for (const [n, v] of atStep1!) assert.deepEqual(Array.from(saved.get(n)!.f32()), Array.from(v), n);
    for (const f of ["optimizer.safetensors", "scheduler.json", "rng_state.json", "training_args.json", "trainer_state.json"]) assert.ok(existsSync(join(out, "checkpoint-1", f)), f);
    // space back: the run resumes from checkpoint-1 and finishes
    rmSync(filler);
    const again = new Trainer({ model: new TinyRegressor(3, { dropout: 0.1 }), args: a, trainDataset: regressionData(16), dataCollator: regressionCollator });
    const res = await again.train({ resumeFromCheckpoint: "latest" });
    assert.equal(res.globalStep, 4);
    assert.equal(again.state.logHistory.filter((e) => "loss" in e).length, 4);
  } finally {
    unmount(m.dir);
  }
});

test("partial checkpoint folders of a dead process are removed, a replaced one put back; a live process's are kept", () => {
  const out = tmp("faults-partial-");
  const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  const deadPid = Number(dead.stdout), livePid = process.ppid;
  const names = {
    building: `.checkpoint-6.tmp-${deadPid}-0a1b2c3d`,
    movedAside: `.checkpoint-5.old-${deadPid}-0a1b2c3e`,
    replacedDone: `.checkpoint-4.old-${deadPid}-0a1b2c3f`,
    live: `.checkpoint-7.tmp-${livePid}-0a1b2c40`,
  };
  for (const n of Object.values(names)) mkdirSync(join(out, n));
  writeFileSync(join(out, names.movedAside, "trainer_state.json"), "{}");
  mkdirSync(join(out, "checkpoint-4")); // the replacement of .checkpoint-4.old arrived
  writeFileSync(join(out, "checkpoint-4", "trainer_state.json"), "{}");
  assert.equal(getLastCheckpoint(out), join(out, "checkpoint-4"), "hidden folders are never 'latest'");
  assert.deepEqual(cleanPartialCheckpoints(out).sort(), [names.replacedDone, names.movedAside, names.building].sort());
  assert.deepEqual(readdirSync(out).sort(), [names.live, "checkpoint-4", "checkpoint-5"].sort());
  assert.ok(existsSync(join(out, "checkpoint-5", "trainer_state.json")));
  assert.equal(getLastCheckpoint(out), join(out, "checkpoint-5"));
});


test("disk full while appending to log_history.jsonl: a TrainingError naming the file and ENOSPC", async (t) => {
  if (!existsSync("/dev/full")) return t.skip("no /dev/full on this machine (the device that answers every write with ENOSPC)");
  const out = tmp("faults-");
  const log = join(out, "log_history.jsonl");
  // once the run has begun (a fresh run first removes an old log), every write to the log meets a full device
  const tr = new Trainer({
    model: new TinyRegressor(), args: args({ output_dir: out, max_steps: 3, report_to: ["jsonl"] }), trainDataset: regressionData(12), dataCollator: regressionCollator,
    callbacks: [{ onStepBegin: () => { if (!existsSync(log)) symlinkSync("/dev/full", log); } }],
  });
  await assert.rejects(tr.train(), (e: Error) => {
    assert.ok(e instanceof TrainingError, String(e));
    assert.equal(e.message, `cannot write ${log}: no space left on the device (ENOSPC); free space or choose another output_dir (the checkpoints already written are intact)`);
    return true;
  });
});
