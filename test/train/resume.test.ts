// Kill-and-resume: a child process training with a checkpoint every step is killed with SIGKILL
// at an arbitrary step, then resumed from "latest"; the loss sequence, the final weights and
// train_loss equal the uninterrupted run's bitwise.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { tmp } from "../peft/helpers.js";
import { loadSafetensors } from "../../src/io/safetensors.js";

const CHILD = join(import.meta.dirname, "fixtures", "resume_child.ts");
const ROOT = join(import.meta.dirname, "..", "..");

function runChild(out: string, mode: string): string {
  const r = spawnSync(process.execPath, ["--import", "tsx", CHILD, out, mode], { cwd: ROOT, encoding: "utf8" });
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  assert.match(r.stdout, /done/);
  return r.stdout;
}

function killAtStep(out: string, step: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ["--import", "tsx", CHILD, out, "fresh", "30"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let buf = "";
    let killed = false;
    c.stdout.on("data", (d) => {
      buf += d;
      if (!killed && buf.includes(`step ${step}\n`)) {
        killed = true;
        c.kill("SIGKILL");
      }
    });
    c.on("exit", (_code, signal) => (killed && signal === "SIGKILL" ? resolve() : reject(new Error(`child was not killed (exit ${_code}): ${buf}`))));
  });
}

function losses(out: string): Map<number, number> {
  const st = JSON.parse(readFileSync(join(out, "trainer_state.json"), "utf8"));
  return new Map((st.log_history as any[]).filter((e) => "loss" in e).map((e) => [e.step, e.loss]));
}

test("SIGKILL at an arbitrary step, resume from latest: bitwise the same losses and weights", async () => {
  const ref = tmp("resume-ref-");
  runChild(ref, "fresh");
  const refLoss = losses(ref);
  assert.equal(refLoss.size, 15);
  for (const killStep of [4, 7 + Math.floor(Math.random() * 6)]) {
    const out = tmp("resume-kill-");
    await killAtStep(out, killStep);
    const stdout = runChild(out, "latest");
    // it continued from a checkpoint at or after the step before the kill, not from scratch
    const first = Number(/step (\d+)/.exec(stdout)![1]);
    assert.ok(first >= killStep && first <= killStep + 1, `resumed at step ${first} after a kill at ${killStep}`);
    const got = losses(out);
    assert.deepEqual([...got.entries()], [...refLoss.entries()], `kill at step ${killStep}`);
    const a = loadSafetensors(join(ref, "checkpoint-15", "model.safetensors"));
    const b = loadSafetensors(join(out, "checkpoint-15", "model.safetensors"));
    for (const [n, t] of a) assert.deepEqual(Array.from(b.get(n)!.f32()), Array.from(t.f32()), n);
    const ms = (d: string) => JSON.parse(readFileSync(join(d, "metrics.json"), "utf8"));
    assert.equal(ms(out).train_loss, ms(ref).train_loss);
    const jl = readFileSync(join(out, "log_history.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(jl.filter((e) => "loss" in e).map((e) => e.loss), [...refLoss.values()]);
  }
});
