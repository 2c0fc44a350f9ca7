// The CLI under faults: `train` into a read-only output folder is refused before the model loads,
// with the reason (EROFS, not ENOENT); SIGTERM during `train` writes a checkpoint and exits 143,
// and `--resume_from_checkpoint true` finishes the run from it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeSst2Split } from "./helpers.js";

const ROOT = join(import.meta.dirname, "..", "..");
const MAIN = join(ROOT, "src", "cli", "main.ts");
const BERT_TINY = join(ROOT, "..", "shared", "golden", "bert-tiny-random");

function trainArgs(data: { trainTsv: string }, out: string, extra: string[] = []): string[] {
  return ["train", "-m", BERT_TINY, "--task", "seq-cls", "--train_file", data.trainTsv, "--max_length", "16", "--peft", "lora", "--lora_r", "2",
    "--target_modules", "query,value", "--per_device_train_batch_size", "2", "--learning_rate", "1e-2", "--save_strategy", "no",
    "--logging_steps", "1", "--seed", "0", "--output_dir", out, ...extra];
}

test("train into a read-only file system: one error line naming output_dir and EROFS, before the model loads", (t) => {
  const mnt = mkdtempSync(join(tmpdir(), "cli-faults-ro-"));
  const m = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k,ro", "tmpfs", mnt], { encoding: "utf8" });
  if (m.status !== 0) {
    rmSync(mnt, { recursive: true, force: true });
    return t.skip(`cannot run here: mount -t tmpfs -o ro failed (${(m.stderr || m.error?.message || "").trim()})`);
  }
  try {
    const data = writeSst2Split(mkdtempSync(join(tmpdir(), "cli-faults-")), 8, 4);
    const out = join(mnt, "run");
    const r = spawnSync(process.execPath, ["--import", "tsx", MAIN, ...trainArgs(data, out, ["--max_steps", "2"])], { cwd: ROOT, encoding: "utf8" });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr.trim(), `peft-ts: error: output_dir '${out}': cannot create the folder: the file system is read-only (EROFS); choose a writable folder (checkpoints, logs and metrics go there)`);
    assert.doesNotMatch(r.stdout, /==> loading/);
  } finally {
    spawnSync("umount", ["-l", mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
});

test("SIGTERM during train: a checkpoint, exit 143; --resume_from_checkpoint true finishes the run from it", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "cli-faults-"));
  const data = writeSst2Split(tmp, 16, 4);
  const out = join(tmp, "run");
  const args = trainArgs(data, out, ["--max_steps", "200", "--disable_tqdm", "true"]);
  const log = join(out, "log_history.jsonl");
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    // a few steps in (log_history.jsonl has lines), the signal
    const poll = setInterval(() => {
      if (existsSync(log) && readFileSync(log, "utf8").split("\n").length > 3) {
        clearInterval(poll);
        p.kill("SIGTERM");
      }
    }, 10);
    p.stderr.on("data", (d) => (stderr += d));
    p.on("exit", (code) => {
      clearInterval(poll);
      resolve({ code, stderr });
    });
  });
  assert.equal(r.code, 143, r.stderr);
  const m = /peft-ts: training interrupted by SIGTERM after step (\d+); checkpoint saved to (\S+);/.exec(r.stderr);
  assert.ok(m, r.stderr);
  const step = Number(m![1]);
  assert.ok(step >= 3 && step < 200, `stopped after step ${step}`);
  assert.equal(m![2], join(out, `checkpoint-${step}`));
  assert.ok(existsSync(join(m![2], "trainer_state.json")));
  const again = spawnSync(process.execPath, ["--import", "tsx", MAIN, ...args, "--resume_from_checkpoint", "true"], { cwd: ROOT, encoding: "utf8" });
  assert.equal(again.status, 0, again.stderr);
  const steps = readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((e) => "loss" in e).map((e) => e.step);
  assert.deepEqual(steps, Array.from({ length: 200 }, (_, i) => i + 1));
});
