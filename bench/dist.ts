// Suite "dist": data-parallel training at world size 2 on this machine, 1 thread per rank, side by
// side with PyTorch DDP (gloo) at the same shapes, ranks and threads. Cases: bert-small LoRA
// all-linear (b8 s128 per rank), bert-small full fine-tuning, llama-small LoRA q/v (b4 s256 per rank),
// random weights (HF init), AdamW lr 1e-4 wd 0.01, clip 1.0, linear schedule.
//   ours:  `mpirun -np 2` of this file in worker mode (the real Trainer over the MPI group,
//          PEFT_TS_NUM_THREADS=1), figures from trainer.ddpStats() (src/train/ddp_grads.ts) and the MPI
//          addon's communication-thread counters;
//   torch: two bench/reference/ddp_torch.py processes (MASTER_ADDR=127.0.0.1, RANK, WORLD_SIZE;
//          torch.set_num_threads(1)), HF transformers + PEFT under DistributedDataParallel, gloo.
// Per case: median step time (rank 0), bytes allreduced per step, time inside collectives (ours: split
// into peer wait, measured by a barrier queued on the communication thread before each bucket, and
// transfer, the collective's own time after it; src/train/comm_stats.ts), the exposed wait after
// backward, hidden share = 1 − wait / collective (both ranks' mean), peak RSS per rank.
// Rounds alternate ours/torch (lora.ts `alternate`); the best round counts. All traffic on 127.0.0.1
// (MPI: shared memory + loopback OOB; gloo: lo).
// Then ZeRO-1 and ZeRO-2 against plain DP on bert-small full fine-tuning: gradient and optimizer-state
// MiB per rank from the library's own accounting (ZeroOptimizer.gradFloats/stateFloats) and peak RSS
// (--zero=off skips them), and tp=2 peak RSS per rank vs tp=1 on llama-small LoRA (--tp=off).
// Worker: `mpirun -np 2 node [--import tsx] bench/dist.ts --worker '<json>'`.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchOptions, BenchRow, Suite } from "./common.js";
import { benchSrc, compiledTwin, runAsWorker, timeRow, workerMode } from "./common.js";
import { findTorchPython } from "./torch.js";
import {
  alternate, argValue, buildModel, cpuSnapshot, CpuSnap, foreignLoad, loadLine, loraTargets, median, ModelName, peakRssMiB, rssRow, SHAPES, workerSetup, trainExamples, withBenchLora,
} from "./lora.js";

type Mode = "lora-all" | "lora" | "full";
interface Case { model: ModelName; mode: Mode }
const CASES: Case[] = [
  { model: "bert-small", mode: "lora-all" },
  { model: "bert-small", mode: "full" },
  { model: "llama-small", mode: "lora" },
];
const NP = 2;

interface WorkerSpec {
  model: ModelName;
  mode: Mode;
  warmup: number;
  steps: number;
  bucketMb?: number;
  /** The run's output folder (the same on every rank: the start-up check compares the arguments; nothing is saved). */
  out: string;
  /** Extra TrainingArguments (snake_case), e.g. { zero_stage: 2 } for the ZeRO hook. */
  extraArgs?: Record<string, unknown>;
}

/** One rank's figures (ours and ddp_torch.py print the same fields). */
interface RankResult {
  rank: number;
  medianS: number;
  times: number[];
  bytesPerStep: number;
  collectiveMs: number | null;
  /** Of collectiveMs (ours only): the probe barriers' time (waiting for the slower rank) and the collectives' own (transfer). */
  peerWaitMs?: number | null;
  transferMs?: number | null;
  waitMs: number;
  hiddenShare: number | null;
  buckets: number;
  trainable: number;
  peakRssMiB: number;
  /** Ours: the library's own accounting of gradient and optimizer-state floats per rank, in MiB (f32). */
  gradMiB?: number;
  optimMiB?: number;
  foreign?: number;
  backend?: string;
  loss?: number;
}

// ------------------------------------------------------------------ worker (one rank under mpirun)
async function distWorker(spec: WorkerSpec): Promise<RankResult> {
  const backend = await workerSetup({ threads: 1 });
  const { manualSeed } = await import("../src/tensor/random.js");
  const { Trainer, TrainingArguments } = await import("../src/train/index.js");
  const { getProcessGroup } = await import("../src/dist/init.js");
  const group = getProcessGroup();
  const s = SHAPES[spec.model];
  manualSeed(0); // the frozen weights are equal on every rank (the trainable ones are broadcast from rank 0)
  const base = await buildModel(spec.model);
  // the tensor-parallel hook: the model split over the tp group before the adapters go on
  const tpSize = Number(spec.extraArgs?.tensor_parallel_size ?? 1);
  if (tpSize > 1) {
    const { parallelizeModel } = await import("../src/models/parallel.js");
    const { parallelLayout } = await import("../src/dist/layout.js");
    parallelizeModel(base, parallelLayout(group, tpSize).tp!);
  }
  const model = spec.mode === "full" ? base : await withBenchLora(base, spec.model, spec.mode === "lora-all");
  const examples = await trainExamples(spec.model);
  const total = spec.warmup + spec.steps;
  // every rank takes `batch` examples per step (global batch = batch × NP)
  const dataset = Array.from({ length: total * group.worldSize }, () => examples).flat();
  const out = spec.out;
  const times: number[] = [];
  let t0 = 0;
  let snap0: CpuSnap | null = null;
  const args = TrainingArguments.fromDict({
    output_dir: out, per_device_train_batch_size: s.batch, max_steps: total, learning_rate: 1e-4, weight_decay: 0.01, max_grad_norm: 1.0,
    save_strategy: "no", logging_strategy: "no", eval_strategy: "no", report_to: ["none"], disable_tqdm: true, ddp_timeout: 900,
    ...(spec.bucketMb ? { ddp_bucket_cap_mb: spec.bucketMb } : {}), ...(spec.extraArgs ?? {}),
  });
  const trainer = new Trainer({
    model, args, trainDataset: dataset, trainSampler: "sequential",
    callbacks: [{
      onStepBegin: () => {
        if (times.length === spec.warmup) snap0 = cpuSnapshot();
        t0 = performance.now();
      },
      onStepEnd: () => void times.push((performance.now() - t0) / 1000),
    }],
  });
  const stats = trainer.ddpStats();
  const r = await trainer.train();
  const sum = stats.summary(spec.warmup);
  const trainable = model.parameters().filter((p: { requiresGrad: boolean }) => p.requiresGrad).reduce((a: number, p: { size: number }) => a + p.size, 0);
  const zero = trainer.ddp.zero;
  let plainOptim = 0;
  for (const st of trainer.optimizer!.state.values()) for (const b of st.buffers.values()) plainOptim += b.length;
  const mib = (floats: number) => (floats * 4) / 2 ** 20;
  const res: RankResult = {
    rank: group.rank, medianS: median(times.slice(spec.warmup)), times, bytesPerStep: sum.bytesPerStep, collectiveMs: sum.collectiveMs,
    peerWaitMs: sum.peerWaitMs, transferMs: sum.transferMs,
    gradMiB: mib(zero ? zero.gradFloats() : trainable), optimMiB: mib(zero ? zero.stateFloats() : plainOptim),
    waitMs: sum.waitMs, hiddenShare: sum.hiddenShare, buckets: sum.buckets, trainable, peakRssMiB: peakRssMiB(),
    foreign: snap0 ? foreignLoad(snap0, cpuSnapshot()) : NaN, backend, loss: r.trainingLoss,
  };
  group.barrier();
  return res;
}

// ------------------------------------------------------------------ launching both sides
/** Runs a set of processes; resolves with every JSON line (objects with a `rank`) of their stdout, or null on a failure. */
function runAll(procs: { cmd: string; args: string[]; env: NodeJS.ProcessEnv }[], timeoutMs: number, what: string): Promise<RankResult[] | null> {
  return new Promise((res) => {
    const results: RankResult[] = [];
    let left = procs.length, failed = false;
    const children = procs.map((p) => spawn(p.cmd, p.args, { stdio: ["ignore", "pipe", "pipe"], env: p.env }));
    const timer = setTimeout(() => {
      failed = true;
      console.error(`bench: ${what} timed out after ${timeoutMs / 1000} s`);
      for (const c of children) c.kill("SIGKILL");
    }, timeoutMs);
    for (const c of children) {
      let out = "", err = "";
      c.stdout.setEncoding("utf8");
      c.stderr.setEncoding("utf8");
      c.stdout.on("data", (d: string) => (out += d));
      c.stderr.on("data", (d: string) => (err = (err + d).slice(-4000)));
      c.on("close", (code, signal) => {
        if (code !== 0) {
          if (!failed) console.error(`bench: ${what} failed (${code ?? signal}): ${err.slice(-2000)}`);
          failed = true;
          for (const o of children) if (o !== c && o.exitCode === null) o.kill("SIGKILL");
        }
        for (const l of out.split("\n")) {
          if (!l.trim().startsWith("{")) continue;
          try {
            const j = JSON.parse(l);
            if (typeof j.rank === "number") results.push(j);
          } catch { /* a log line */ }
        }
        if (--left === 0) {
          clearTimeout(timer);
          res(failed || results.length !== NP ? null : results.sort((a, b) => a.rank - b.rank));
        }
      });
    }
  });
}

/** Loopback only: OpenMPI's shared-memory BTL between the ranks, its OOB/TCP bound to lo; one thread per rank. */
function mpiEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env, OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1", OMPI_MCA_rmaps_base_oversubscribe: "1",
    OMPI_MCA_btl: "self,vader", OMPI_MCA_oob_tcp_if_include: "lo", OMPI_MCA_btl_tcp_if_include: "lo",
    PEFT_TS_NUM_THREADS: "1", OMP_NUM_THREADS: "1", PEFT_TS_BACKEND: process.env.PEFT_TS_BACKEND ?? "native",
  };
}

/** Runs our side once (a fresh output folder, removed afterwards). */
async function runOurs(self: string, spec: Omit<WorkerSpec, "out">, what: string): Promise<RankResult[] | null> {
  const out = mkdtempSync(join(tmpdir(), "peft-ts-bench-dist-"));
  try {
    return await runAll([oursCmd(self, { ...spec, out })], 1_800_000, what);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function oursCmd(self: string, spec: WorkerSpec): { cmd: string; args: string[]; env: NodeJS.ProcessEnv } {
  const js = compiledTwin(self);
  const node = js ? [process.execPath, js] : [process.execPath, "--import", "tsx", self];
  return { cmd: "mpirun", args: ["-np", String(NP), "--oversubscribe", "--bind-to", "none", ...node, "--worker", JSON.stringify(spec)], env: mpiEnv() };
}

function torchCmds(python: string, c: Case, warmup: number, steps: number, port: number, bucketMb?: number): { cmd: string; args: string[]; env: NodeJS.ProcessEnv }[] {
  const s = SHAPES[c.model];
  const spec = { kind: s.kind, hf: s.hf, mode: c.mode, targets: loraTargets(c.model, c.mode === "lora-all"), batch: s.batch, seq: s.seq, warmup, steps, threads: 1, bucket_cap_mb: bucketMb ?? 25 };
  const script = join(benchSrc, "reference", "ddp_torch.py");
  return Array.from({ length: NP }, (_, r) => ({
    cmd: python, args: [script, JSON.stringify(spec)],
    env: {
      ...process.env, MASTER_ADDR: "127.0.0.1", MASTER_PORT: String(port), RANK: String(r), WORLD_SIZE: String(NP), LOCAL_RANK: String(r),
      GLOO_SOCKET_IFNAME: "lo", OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1",
    },
  }));
}

interface Summary {
  ranks: RankResult[]; step: number; bytes: number; coll: number | null; peerWait: number | null; transfer: number | null; wait: number; hidden: number | null;
  rss: number[]; trainable: number; buckets: number; foreign?: number; loss?: number;
}

function summarize(rs: RankResult[]): Summary {
  const mean = (f: (r: RankResult) => number) => rs.reduce((a, r) => a + f(r), 0) / rs.length;
  const meanOf = (f: (r: RankResult) => number | null | undefined) => rs.every((r) => typeof f(r) === "number") ? mean((r) => f(r)!) : null;
  const coll = meanOf((r) => r.collectiveMs);
  const wait = mean((r) => r.waitMs);
  return {
    ranks: rs, step: rs[0].medianS * 1000, bytes: rs[0].bytesPerStep, coll, peerWait: meanOf((r) => r.peerWaitMs), transfer: meanOf((r) => r.transferMs),
    wait, hidden: coll && coll > 0 ? Math.min(1, Math.max(0, 1 - wait / coll)) : null,
    rss: rs.map((r) => r.peakRssMiB), trainable: rs[0].trainable, buckets: rs[0].buckets, foreign: rs[0].foreign, loss: rs[0].loss,
  };
}

const better = (a: Summary | null, b: Summary | null) => (!a ? b : !b ? a : b.step < a.step ? b : a);
const lowerRow = (name: string, ours: number, ref: number | null, unit: string): BenchRow => ({ suite: "dist", case: name, ours, reference: ref, unit, ratio: ref === null || !(ours > 0) ? null : ref / ours });

export const distSuite: Suite = {
  name: "dist",
  description: "2-rank data parallelism (1 thread/rank): step time, bytes/step, collective time (peer wait + transfer), hidden share, RSS per rank vs PyTorch DDP gloo; ZeRO-1/2 memory per rank vs DP; tp=2 RSS (--rounds=N; --bucket-mb=N; --case=bert-small:lora-all,...|none; --zero=off; --tp=off)",
  async run(opts: BenchOptions, emit: (r: BenchRow) => void): Promise<void> {
    const self = fileURLToPath(import.meta.url);
    const { mpiAvailable } = await import("../src/dist/mpi_addon.js");
    const mpi = mpiAvailable();
    const py = findTorchPython();
    const rounds = Number(argValue(opts, "--rounds") ?? (opts.quick ? 1 : 2));
    const bucketMb = argValue(opts, "--bucket-mb") ? Number(argValue(opts, "--bucket-mb")) : undefined;
    const want = argValue(opts, "--case")?.split(",");
    const cases = want ? CASES.filter((c) => want.includes(`${c.model}:${c.mode}`)) : CASES;
    if (!opts.json)
      console.log(
        `# dist: world size ${NP} on this machine, 1 thread per rank (PEFT_TS_NUM_THREADS=1 / torch.set_num_threads(1)); ours: mpirun (vader shm, OOB on lo), Trainer + bucketed allreduce` +
          ` (bucket ${bucketMb ?? 25} MB); torch: ${py ? `${py.version} DDP gloo on 127.0.0.1 (bench/reference/ddp_torch.py, HF transformers + PEFT)` : "absent (references skipped)"}; ${workerMode(self)}\n` +
          `# ${rounds} round(s) alternating ours/torch, best round by step time; step = rank 0's median; bytes = allreduced per step per rank; collective = time an allreduce was in flight` +
          ` (ours: the MPI comm thread inside MPI_Allreduce; torch: union of the comm hook's launch→completion), includes waiting for the slower rank;\n` +
          `# wait = exposed (ours: JS blocked in CommHandle.wait() after backward; torch: backward return − last gradient); hidden = 1 − wait/collective (mean of the ranks)\n` +
          `# ratio > 1 = ours better (times, bytes, RSS: torch/ours; hidden share: ours/torch). CPU shared with other jobs: figures are noisy.`,
      );
    if (!mpi.ok) {
      console.log(`# dist: skipped: ${mpi.why}`);
      return;
    }
    for (const c of cases) {
      const s = SHAPES[c.model];
      const warmup = 1;
      const steps = opts.quick ? 3 : 5;
      const name = `${c.model} ${c.mode === "lora" ? "lora-qv" : c.mode} b${s.batch}s${s.seq} np${NP} t1`;
      let ours: Summary | null = null, ref: Summary | null = null;
      for (let r = 0; r < rounds; r++) {
        const port = 29500 + Math.floor(Math.random() * 2000);
        await alternate(
          r,
          async () => {
            const o = await runOurs(self, { model: c.model, mode: c.mode, warmup, steps, bucketMb }, `ours ${name}`);
            if (o) ours = better(ours, summarize(o));
          },
          async () => {
            if (!py) return;
            const t = await runAll(torchCmds(py.python, c, warmup, steps, port, bucketMb), 1_800_000, `ddp_torch ${name}`);
            if (t) ref = better(ref, summarize(t));
          },
        );
      }
      const o = ours as Summary | null, t = ref as Summary | null;
      if (!o) continue;
      if (!opts.json) {
        console.log(`#   ${name}: trainable ${o.trainable} (torch ${t?.trainable ?? "-"}), buckets ${o.buckets} (torch ${t?.buckets ?? "-"}), loss ${o.loss?.toFixed(4)}`);
        console.log(loadLine(name, o.foreign, null));
        const split = (r: RankResult) => typeof r.peerWaitMs === "number" ? ` = peer wait ${r.peerWaitMs.toFixed(1)} + transfer ${r.transferMs!.toFixed(1)}` : "";
        const per = (x: Summary | null) => x ? x.ranks.map((r) => `rank ${r.rank} wait ${r.waitMs.toFixed(1)} / collective ${r.collectiveMs?.toFixed(1) ?? "-"}${split(r)} ms`).join(", ") : "-";
        console.log(`#   per rank: ours ${per(o)}; torch ${per(t)}`);
      }
      emit(timeRow("dist", `${name} step`, o.step, t?.step ?? null));
      emit(lowerRow(`${name} MB/step`, o.bytes / 1e6, t ? t.bytes / 1e6 : null, "MB"));
      if (o.coll !== null) emit(lowerRow(`${name} collective`, o.coll, t?.coll ?? null, "ms"));
      // ours only: the collective time split by the probe barriers (comm_stats.ts); torch's comm hook cannot tell them apart
      if (o.peerWait !== null) emit(lowerRow(`${name} collective: peer wait`, o.peerWait, null, "ms"));
      if (o.transfer !== null) emit(lowerRow(`${name} collective: transfer`, o.transfer, null, "ms"));
      emit(lowerRow(`${name} exposed wait`, o.wait, t?.wait ?? null, "ms"));
      if (o.hidden !== null) emit({ suite: "dist", case: `${name} hidden`, ours: 100 * o.hidden, reference: t?.hidden == null ? null : 100 * t.hidden, unit: "%", ratio: t?.hidden ? o.hidden / t.hidden : null });
      o.rss.forEach((x, rank) => emit(rssRow("dist", `${name} rss rank${rank}`, x, t?.rss[rank] ?? null)));
    }
    // ZeRO-1/2 memory per rank vs plain DP (bert-small full fine-tuning): the library's accounting of
    // gradient and optimizer-state floats, and peak RSS; then tensor parallelism's peak RSS vs tp=1
    if (argValue(opts, "--zero") !== "off") {
      const c: Case = { model: "bert-small", mode: "full" };
      const spec = { model: c.model, mode: c.mode, warmup: 1, steps: 2, bucketMb };
      const plain = await runOurs(self, spec, "plain DP bert-small full");
      for (const stage of [1, 2]) {
        const z = plain && await runOurs(self, { ...spec, extraArgs: { zero_stage: stage } }, `zero-${stage} bert-small full`);
        if (!plain || !z) continue;
        const what = `bert-small full zero-${stage}`;
        if (!opts.json) {
          const line = (r: RankResult) => `rank ${r.rank} grad ${r.gradMiB!.toFixed(1)} MiB, optimizer ${r.optimMiB!.toFixed(1)} MiB, step ${(r.medianS * 1000).toFixed(0)} ms`;
          console.log(`#   ${what}: ${z.map(line).join("; ")} (plain DP: ${plain.map(line).join("; ")})`);
        }
        // ratio > 1 = the sharded run needs less memory per rank than plain DP
        z.forEach((x, rank) => {
          emit(lowerRow(`${what} grad/rank${rank} vs DP`, x.gradMiB!, plain[rank].gradMiB!, "MiB"));
          emit(lowerRow(`${what} optim/rank${rank} vs DP`, x.optimMiB!, plain[rank].optimMiB!, "MiB"));
          emit(rssRow("dist", `${what} rss rank${rank} vs DP`, x.peakRssMiB, plain[rank].peakRssMiB));
        });
      }
    }
    {
      const what = "llama-small lora-qv tp=2 peak rss/rank vs tp=1";
      const spec = { model: "llama-small" as ModelName, mode: "lora" as Mode, warmup: 1, steps: 2, bucketMb };
      const plain = argValue(opts, "--tp") === "off" ? null : await runOurs(self, spec, `tp=1 ${what}`);
      const other = plain && await runOurs(self, { ...spec, extraArgs: { tensor_parallel_size: 2 } }, what);
      if (plain && other) other.forEach((x, rank) => emit(rssRow("dist", `${what} rank${rank}`, x.peakRssMiB, plain[rank].peakRssMiB)));
    }
  },
};

runAsWorker(import.meta.url, distWorker);
