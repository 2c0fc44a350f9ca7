// A training process killed (SIGKILL) at 20 random moments, mid-save included, and one stopped by
// SIGINT or SIGTERM: every restart finds a complete checkpoint (the latest complete one; partial
// folders ignored, then cleaned), and the run finished through all the restarts has the
// uninterrupted run's losses and grad norms bitwise.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { getLastCheckpoint } from "../../src/train/index.js";
import { loadSafetensors } from "../../src/io/safetensors.js";
import { tmp } from "../peft/helpers.js";

const CHILD = join(import.meta.dirname, "fixtures", "fault_child.ts");
const ROOT = join(import.meta.dirname, "..", "..");
const PARTIAL = /^\.checkpoint-\d+\.(tmp|old)-/;
const EXAMPLES = "60"; // 45 steps

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/**
 * Runs the child; `onLine(line, kill)` sees each stdout line and may kill it. Resolves at exit.
 * args: mode, step_ms, save_ms, save_steps.
 */
function child(out: string, args: string[], onLine: (line: string, p: ReturnType<typeof spawn>) => void = () => {}): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["--import", "tsx", CHILD, out, ...args, EXAMPLES], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "", pending = "";
    p.stdout!.on("data", (d) => {
      stdout += d;
      pending += d;
      let i;
      while ((i = pending.indexOf("\n")) >= 0) {
        onLine(pending.slice(0, i), p);
        pending = pending.slice(i + 1);
      }
    });
    p.stderr!.on("data", (d) => (stderr += d));
    p.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** step → [loss, grad_norm] from trainer_state.json. */
function history(out: string): Map<number, [number, number]> {
  const st = JSON.parse(readFileSync(join(out, "trainer_state.json"), "utf8"));
  return new Map((st.log_history as any[]).filter((e) => "loss" in e).map((e) => [e.step, [e.loss, e.grad_norm]]));
}

function assertSameHistory(got: Map<number, [number, number]>, ref: Map<number, [number, number]>, what: string): void {
  assert.equal(got.size, ref.size, `${what}: logged steps`);
  for (const [step, [loss, norm]] of ref) {
    const [l, g] = got.get(step) ?? [NaN, NaN];
    assert.ok(l === loss && g === norm, `${what}, step ${step}: loss ${l} / grad_norm ${g}, uninterrupted ${loss} / ${norm}`);
  }
}

/** A checkpoint folder with every file, readable, for the step its name says. */
function assertComplete(dir: string): void {
  for (const f of ["model.safetensors", "optimizer.safetensors", "scheduler.json", "rng_state.json", "training_args.json", "trainer_state.json"]) {
    assert.ok(existsSync(join(dir, f)), `${dir}: ${f} missing`);
  }
  const st = JSON.parse(readFileSync(join(dir, "trainer_state.json"), "utf8"));
  assert.equal(`checkpoint-${st.global_step}`, dir.split("/").pop());
  JSON.parse(readFileSync(join(dir, "rng_state.json"), "utf8"));
  loadSafetensors(join(dir, "optimizer.safetensors"));
  loadSafetensors(join(dir, "model.safetensors"));
}

async function reference(): Promise<Map<number, [number, number]>> {
  const ref = tmp("kill-ref-");
  const r = await child(ref, ["fresh", "0", "0", "1000"]);
  assert.equal(r.code, 0, r.stderr);
  const h = history(ref);
  assert.equal(h.size, 45);
  return h;
}

test("SIGKILL at 20 random moments (mid-save included): each restart resumes from a complete checkpoint; the finished run is bitwise the uninterrupted one", async (t) => {
  const ref = await reference();
  const out = tmp("kill-chain-");
  let kills = 0, midSave = 0, resumedFrom = 0;
  while (kills < 20) {
    // kill on the n-th "step" or "saving" line (n = 1..3), after a random delay; a save takes ≥ 40 ms
    const kind = Math.random() < 0.5 ? "saving" : "step";
    const nth = 1 + Math.floor(Math.random() * 3), delay = Math.floor(Math.random() * (kind === "saving" ? 30 : 8));
    let seen = 0;
    const r = await child(out, ["auto", "3", "40", "1"], (line, p) => {
      if (line.startsWith(kind + " ") && ++seen === nth) setTimeout(() => p.kill("SIGKILL"), delay);
    });
    const first = /^step (\d+)$/m.exec(r.stdout);
    if (first) assert.equal(Number(first[1]), resumedFrom + 1, "a restart continues right after the latest complete checkpoint");
    if (r.signal !== "SIGKILL") {
      assert.fail(`the child ended before its kill (${r.code}): ${r.stderr}`);
    }
    kills++;
    if (readdirSync(out).some((n) => PARTIAL.test(n))) midSave++;
    const last = getLastCheckpoint(out);
    if (last) assertComplete(last);
    resumedFrom = last ? Number(last.split("-").pop()) : 0;
  }
  t.diagnostic(`${kills} kills, ${midSave} inside a save; the last restart resumed after step ${resumedFrom}`);
  assert.ok(midSave >= 3, `only ${midSave} of the kills landed inside a save`);
  const r = await child(out, ["auto", "0", "0", "1"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(out).filter((n) => PARTIAL.test(n)), [], "partial folders are cleaned");
  assertSameHistory(history(out), ref, "after 20 kills");
});

for (const [signal, status] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  test(`${signal}: a checkpoint is written, the process exits with ${status}, and the resumed run is bitwise the uninterrupted one`, async () => {
    const ref = await reference();
    const out = tmp("signal-");
    const at = 3 + Math.floor(Math.random() * 10);
    // no scheduled save before the end (save_steps 1000): the checkpoint is the stop's own
    const r = await child(out, ["fresh", "20", "0", "1000"], (line, p) => { if (line === `step ${at}`) p.kill(signal); });
    assert.equal(r.signal, null);
    assert.equal(r.code, status, r.stderr);
    const m = new RegExp(`training interrupted by ${signal} after step (\\d+); checkpoint saved to (\\S+);`).exec(r.stderr);
    assert.ok(m, r.stderr);
    const step = Number(m![1]);
    assert.ok(step >= at && step < 45, `stopped at ${step} after the signal at ${at}`);
    assert.equal(m![2], join(out, `checkpoint-${step}`));
    assertComplete(m![2]);
    assert.deepEqual(readdirSync(out).filter((n) => n.startsWith("checkpoint-")), [`checkpoint-${step}`]);
    const resumed = await child(out, ["latest", "0", "0", "1000"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(/^step (\d+)$/m.exec(resumed.stdout)![1], String(step + 1));
    assertSameHistory(history(out), ref, `${signal} at step ${step}`);
  });
}
