// SIGTERM to `peft-ts train --nproc_per_node 2` (the launcher): it asks mpirun (SIGUSR1, which
// mpirun forwards to the ranks) for a coordinated stop; the ranks agree on one step, write one
// complete checkpoint, and end; the launcher exits 143 with no rank left behind. The same
// command with --resume_from_checkpoint true finishes the run with the uninterrupted run's
// losses, bitwise. Needs OpenMPI and the MPI addon; without them the test says why and is skipped.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, bertTinyNoDropout, writeSst2Split } from "./helpers.js";
import { mpiEnv, whyNoMpi } from "../helpers/mpi.js";

const why = whyNoMpi();
const STEPS = 600;

let tmp: string;
let model: string;
let trainTsv: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "peft-ts-cli-signal-"));
  model = bertTinyNoDropout(tmp);
  ({ trainTsv } = writeSst2Split(tmp, 32, 0));
});
after(() => {
  // a failed test may leave mpirun and its ranks (mpirun has its own process group)
  for (const p of processesNaming(tmp)) process.kill(Number(p), "SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
});

const argv = (out: string, extra: string[] = []) => [
  join(ROOT, "bin", "peft-ts.js"), "train", "-m", model, "--task", "seq-cls", "--train_file", trainTsv, "--max_length", "24",
  "--peft", "lora", "--lora_r", "4", "--target_modules", "query,value", "--max_steps", String(STEPS), "--learning_rate", "1e-3",
  "--logging_steps", "1", "--save_strategy", "no", "--seed", "0", "--disable_tqdm", "--per_device_train_batch_size", "4",
  "--nproc_per_node", "2", "--output_dir", out, ...extra,
];
const losses = (dir: string) => new Map(readFileSync(join(dir, "log_history.jsonl"), "utf8").split("\n").filter(Boolean)
  .map((l) => JSON.parse(l)).filter((e) => e.loss !== undefined).map((e) => [e.step as number, e.loss as number]));
const checkpoints = (dir: string) => readdirSync(dir).filter((d) => d.startsWith("checkpoint-"));
/** The pid of the process of `rank` among those whose command line names `out`. */
function rankPid(out: string, rank: number): number | null {
  for (const p of processesNaming(out).map(Number)) {
    try {
      if (readFileSync(`/proc/${p}/environ`, "utf8").split("\0").includes(`OMPI_COMM_WORLD_RANK=${rank}`)) return p;
    } catch {
      // gone meanwhile
    }
  }
  return null;
}
/**
 * Starts the 2-rank launcher on `out` and, a few steps in (log_history.jsonl has lines), calls
 * `signal`; resolves with the launcher's exit status and output (SIGKILL after 90 s).
 */
function runAndSignal(out: string, signal: (p: ChildProcess) => void): Promise<{ code: number | null; text: string }> {
  const log = join(out, "log_history.jsonl");
  return new Promise((resolve) => {
    const p = spawn(process.execPath, argv(out), { cwd: ROOT, env: mpiEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    p.stdout!.on("data", (d) => (text += d));
    p.stderr!.on("data", (d) => (text += d));
    const poll = setInterval(() => {
      if (existsSync(log) && readFileSync(log, "utf8").split("\n").length > 5) {
        clearInterval(poll);
        signal(p);
      }
    }, 10);
    const guard = setTimeout(() => p.kill("SIGKILL"), 90_000);
    p.on("exit", (code) => {
      clearInterval(poll);
      clearTimeout(guard);
      resolve({ code, text });
    });
  });
}
/** The pids of the processes whose command line names `out` (after --output_dir). */
const processesNaming = (out: string) => spawnSync("pgrep", ["-f", "--", `--output_dir ${out}`], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);

test("SIGTERM to the 2-rank launcher: one agreed checkpoint, exit 143, no rank left; resuming gives the uninterrupted losses bitwise", { skip: why ?? false, timeout: 120_000 }, async () => {
  const out = join(tmp, "stopped");
  const r = await runAndSignal(out, (p) => p.kill("SIGTERM"));
  assert.equal(r.code, 143, r.text);
  assert.match(r.text, /peft-ts: SIGTERM: asking the ranks to write a checkpoint after the current step, then stop/);
  // rank 0 says where it stopped: the signal the ranks got is mpirun's forwarded SIGUSR1
  const m = /peft-ts: training interrupted by SIGUSR1 after step (\d+); checkpoint saved to (\S+);/.exec(r.text);
  assert.ok(m, r.text);
  const step = Number(m![1]);
  assert.ok(step >= 5 && step < STEPS, `stopped after step ${step}`);
  assert.equal(m![2], join(out, `checkpoint-${step}`));
  assert.deepEqual(checkpoints(out), [`checkpoint-${step}`]);
  for (const f of ["trainer_state.json", "optimizer.safetensors", "adapter_model.safetensors", "rng_state.json", "scheduler.json"]) {
    assert.ok(existsSync(join(out, `checkpoint-${step}`, f)), `checkpoint-${step} lacks ${f}`);
  }
  assert.equal(JSON.parse(readFileSync(join(out, `checkpoint-${step}`, "trainer_state.json"), "utf8")).global_step, step);
  assert.deepEqual(processesNaming(out), [], "processes of the stopped run are left");

  const again = spawnSync(process.execPath, argv(out, ["--resume_from_checkpoint", "true"]), { cwd: ROOT, env: mpiEnv(), encoding: "utf8", timeout: 60_000 });
  assert.equal(again.status, 0, `${again.stdout}\n${again.stderr}`);
  const whole = join(tmp, "whole");
  const a = spawnSync(process.execPath, argv(whole), { cwd: ROOT, env: mpiEnv(), encoding: "utf8", timeout: 60_000 });
  assert.equal(a.status, 0, `${a.stdout}\n${a.stderr}`);
  const want = losses(whole), got = losses(out);
  for (let s = 1; s <= STEPS; s++) {
    assert.ok(got.has(s) && want.has(s), `step ${s} missing`);
    assert.equal(got.get(s), want.get(s), `step ${s}: stopped-and-resumed ${got.get(s)} vs uninterrupted ${want.get(s)}`);
  }
  console.log(`# stopped after step ${step} on SIGTERM; resumed to ${STEPS}: every loss bitwise equal to the uninterrupted run's`);
});

test("SIGUSR1 to rank 1 alone: rank 0 learns of it at the next step's agreement; both stop at the same step with one checkpoint", { skip: why ?? false, timeout: 120_000 }, async () => {
  const out = join(tmp, "one-rank");
  const r = await runAndSignal(out, (p) => {
    const pid = rankPid(out, 1);
    if (pid) process.kill(pid, "SIGUSR1");
    else p.kill("SIGKILL");
  });
  // the ranks exit 128 + 10 (SIGUSR1); mpirun passes the first one's status on
  assert.equal(r.code, 138, r.text);
  assert.match(r.text, /peft-ts: SIGUSR1: writing a checkpoint after the current step, then stopping/);
  const m = /peft-ts: training interrupted by SIGUSR1 after step (\d+); checkpoint saved to (\S+);/.exec(r.text);
  assert.ok(m, r.text);
  const step = Number(m![1]);
  assert.ok(step >= 5 && step < STEPS, `stopped after step ${step}`);
  assert.deepEqual(checkpoints(out), [`checkpoint-${step}`]);
  assert.equal(JSON.parse(readFileSync(join(out, `checkpoint-${step}`, "trainer_state.json"), "utf8")).global_step, step);
  assert.equal(Math.max(...losses(out).keys()), step);
  assert.deepEqual(processesNaming(out), [], "processes of the stopped run are left");
});
