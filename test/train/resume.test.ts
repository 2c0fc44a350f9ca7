// Kill-and-resume: a child process training with a checkpoint every step is killed with SIGKILL
// at an arbitrary step, then resumed from "latest"; the loss and grad-norm sequences, the final
// weights and train_loss equal the uninterrupted run's bitwise (===), on whichever backend runs
// the suite (the children inherit PEFT_TS_BACKEND). Models: the small MLP, a LoRA classifier on
// the tiny BERT (dropout on, trained classification head) and a LoRA causal LM on the tiny llama.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { tmp } from "../peft/helpers.js";
import { loadSafetensors } from "../../src/io/safetensors.js";
import { readAdapterWeights } from "../../src/peft/save_load.js";

const FIXTURES = join(import.meta.dirname, "fixtures");
const ROOT = join(import.meta.dirname, "..", "..");

/** A child training run: the script and its arguments before <output_dir> <fresh|latest> [slow_ms]. */
interface Child { script: string; pre: string[]; steps: number; weights: (checkpoint: string) => Map<string, Float32Array> }

const mlpWeights = (d: string) => new Map([...loadSafetensors(join(d, "model.safetensors"))].map(([n, t]) => [n, t.f32()]));
const loraWeights = (d: string) => new Map([...readAdapterWeights(d)].map(([n, t]) => [n, t.f32()]));
const MLP: Child = { script: "resume_child.ts", pre: [], steps: 15, weights: mlpWeights };
const BERT: Child = { script: "resume_lora_child.ts", pre: ["bert"], steps: 9, weights: loraWeights };
const LLAMA: Child = { script: "resume_lora_child.ts", pre: ["llama"], steps: 9, weights: loraWeights };

function argv(c: Child, out: string, mode: string, slow?: number): string[] {
  return ["--import", "tsx", join(FIXTURES, c.script), ...c.pre, out, mode, ...(slow ? [String(slow)] : [])];
}

function runChild(c: Child, out: string, mode: string): string {
  const r = spawnSync(process.execPath, argv(c, out, mode), { cwd: ROOT, encoding: "utf8" });
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  assert.match(r.stdout, /done/);
  return r.stdout;
}

function killAtStep(c: Child, out: string, step: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, argv(c, out, "fresh", 30), { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let buf = "";
    let killed = false;
    p.stdout.on("data", (d) => {
      buf += d;
      if (!killed && buf.includes(`step ${step}\n`)) {
        killed = true;
        p.kill("SIGKILL");
      }
    });
    p.on("exit", (code, signal) => (killed && signal === "SIGKILL" ? resolve() : reject(new Error(`child was not killed (exit ${code}): ${buf}`))));
  });
}

/** step → [loss, grad_norm] of the logged training steps. */
function history(out: string): Map<number, [number, number]> {
  const st = JSON.parse(readFileSync(join(out, "trainer_state.json"), "utf8"));
  return new Map((st.log_history as any[]).filter((e) => "loss" in e).map((e) => [e.step, [e.loss, e.grad_norm]]));
}

async function killAndResumeIsBitwise(c: Child, killSteps: number[]): Promise<void> {
  const ref = tmp("resume-ref-");
  runChild(c, ref, "fresh");
  const refHist = history(ref);
  assert.equal(refHist.size, c.steps);
  for (const [, [loss, norm]] of refHist) assert.ok(Number.isFinite(loss) && Number.isFinite(norm));
  for (const killStep of killSteps) {
    const out = tmp("resume-kill-");
    await killAtStep(c, out, killStep);
    const stdout = runChild(c, out, "latest");
    // it continued from a checkpoint at or after the step before the kill, not from scratch
    const first = Number(/step (\d+)/.exec(stdout)![1]);
    assert.ok(first >= killStep && first <= killStep + 1, `resumed at step ${first} after a kill at ${killStep}`);
    const got = history(out);
    for (const [step, [loss, norm]] of refHist) {
      assert.ok(got.has(step), `kill at ${killStep}: step ${step} missing from the resumed run's history`);
      const [l, g] = got.get(step)!;
      assert.ok(l === loss && g === norm, `kill at ${killStep}, step ${step}: loss ${l} / grad_norm ${g}, uninterrupted ${loss} / ${norm}`);
    }
    assert.equal(got.size, refHist.size);
    const a = c.weights(join(ref, `checkpoint-${c.steps}`)), b = c.weights(join(out, `checkpoint-${c.steps}`));
    assert.deepEqual([...b.keys()], [...a.keys()]);
    for (const [n, t] of a) assert.deepEqual(Array.from(b.get(n)!), Array.from(t), n);
    const ms = (d: string) => JSON.parse(readFileSync(join(d, "metrics.json"), "utf8"));
    assert.equal(ms(out).train_loss, ms(ref).train_loss);
    const jl = readFileSync(join(out, "log_history.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(jl.filter((e) => "loss" in e).map((e) => [e.loss, e.grad_norm]), [...refHist.values()]);
  }
}

test("MLP: SIGKILL at an arbitrary step, resume from latest: bitwise the same losses, grad norms and weights", async () => {
  await killAndResumeIsBitwise(MLP, [4, 7 + Math.floor(Math.random() * 6)]);
});

test("LoRA BERT classifier (dropout, classification head): SIGKILL, resume: bitwise the same losses, grad norms and adapter", async () => {
  await killAndResumeIsBitwise(BERT, [2 + Math.floor(Math.random() * 6)]);
});

test("LoRA causal LM (tiny llama, dropout): SIGKILL, resume: bitwise the same losses, grad norms and adapter", async () => {
  await killAndResumeIsBitwise(LLAMA, [3 + Math.floor(Math.random() * 5)]);
});
