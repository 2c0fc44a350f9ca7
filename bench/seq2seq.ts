// Suite "seq2seq": a t5-small-shaped T5ForConditionalGeneration (random init; d_model 512, 6+6 layers,
// 8 heads, d_ff 2048, vocab 32128, dropout 0), side by side with PyTorch (bench/torch_seq2seq.py):
//   train     one LoRA step (r 8, alpha 16, PEFT's T5 targets q/v, AdamW): forward with labels + backward +
//             optimizer step + zero grad, batch 8, source 128, target 64 (tok/s = batch·(source+target) / step)
//   generate  beam-4 generation of exactly 32 new tokens (min = max new tokens) for batch 8, source 128
//             (tok/s = batch·32 / call), PyTorch: transformers generate()
// Each case runs in its own process (peak RSS per case); rounds alternate ours/torch, best round counts.
// Worker: `node --import tsx bench/seq2seq.ts --worker '<json>'`.
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import type { BenchOptions, BenchRow, Suite } from "./common.js";
import { benchSrc, rateRow, runAsWorker, workerMode } from "./common.js";
import { findTorchPython } from "./torch.js";
import {
  alternate, argValue, benchThreads, bestOf, timeSteps, loadLine, lowestOf, median, peakRssMiB, rssRow, runChild, runWorker,
  workerSetup, type ChildResult,
} from "./lora.js";

const SHAPE = { batch: 8, src: 128, tgt: 64, beams: 4, newTokens: 32 };
export const T5_SMALL = {
  model_type: "t5", architectures: ["T5ForConditionalGeneration"], vocab_size: 32128, d_model: 512, d_kv: 64, d_ff: 2048,
  num_layers: 6, num_decoder_layers: 6, num_heads: 8, relative_attention_num_buckets: 32, relative_attention_max_distance: 128,
  dropout_rate: 0.0, feed_forward_proj: "relu", layer_norm_epsilon: 1e-6, initializer_factor: 1.0, tie_word_embeddings: true,
  decoder_start_token_id: 0, pad_token_id: 0, eos_token_id: 1, is_encoder_decoder: true,
};

interface Spec {
  mode: "train" | "generate";
  threads: number;
  warmup: number;
  steps: number;
}

async function worker(spec: Spec): Promise<Record<string, unknown>> {
  const backend = await workerSetup(spec);
  const { parseConfig } = await import("../src/io/hf_config.js");
  const { AutoModelForSeq2SeqLM } = await import("../src/models/auto.js");
  const { Rng, manualSeed } = await import("../src/tensor/random.js");
  const { noGrad } = await import("../src/tensor/autograd.js");
  const { generate } = await import("../src/models/generate.js");
  manualSeed(0);
  const model = AutoModelForSeq2SeqLM.fromConfig(parseConfig(T5_SMALL, "bench:t5-small"));
  const rng = new Rng(1234), V = T5_SMALL.vocab_size;
  const rows = (n: number, T: number) => Array.from({ length: n }, () => Array.from({ length: T }, () => 2 + rng.randint(V - 2)));
  const ids = rows(SHAPE.batch, SHAPE.src), mask = ids.map((r) => r.map(() => 1));
  let step: () => void;
  let tokens: number;
  const extra: Record<string, unknown> = {};
  if (spec.mode === "train") {
    const { getPeftModel, LoraConfig } = await import("../src/peft/index.js");
    const { AdamW } = await import("../src/train/optim/index.js");
    const pm = getPeftModel(model, new LoraConfig({ taskType: "SEQ_2_SEQ_LM", r: 8, loraAlpha: 16, loraDropout: 0 }));
    pm.train();
    const labels = rows(SHAPE.batch, SHAPE.tgt);
    const opt = new AdamW(pm.parameters().filter((p) => p.requiresGrad), { lr: 1e-4, weightDecay: 0.01 });
    const losses: number[] = [];
    step = () => {
      const out = pm.forward({ inputIds: ids, attentionMask: mask, labels });
      out.loss!.backward();
      opt.step();
      pm.zeroGrad();
      losses.push(out.loss!.item());
    };
    tokens = SHAPE.batch * (SHAPE.src + SHAPE.tgt);
    extra.trainable = pm.getNbTrainableParameters()[0];
    extra.losses = losses;
  } else {
    model.eval();
    step = () => {
      const out = noGrad(() => generate(model, ids, { attentionMask: mask, numBeams: SHAPE.beams, maxNewTokens: SHAPE.newTokens, minNewTokens: SHAPE.newTokens }));
      if (out[0].length !== SHAPE.newTokens + 1) throw new Error(`generate returned ${out[0].length - 1} new tokens, expected ${SHAPE.newTokens}`);
    };
    tokens = SHAPE.batch * SHAPE.newTokens;
  }
  const { times, cpuTimes, foreign } = timeSteps(step, spec.warmup, spec.steps);
  const med = median(times), medCpu = median(cpuTimes);
  return { backend, foreign, times, medianS: med, tokPerS: tokens / med, tokPerCpuS: tokens / medCpu, peakRssMiB: peakRssMiB(), ...extra };
}

async function torchRun(spec: Spec): Promise<ChildResult & { median_s: number; median_cpu_s: number; foreign_cpu_cores_avg: number } | null> {
  const py = findTorchPython();
  if (!py) return null;
  return runChild(py.python, [join(benchSrc, "torch_seq2seq.py"), "--mode", spec.mode, "--threads", String(spec.threads),
    "--batch", String(SHAPE.batch), "--src", String(SHAPE.src), "--tgt", String(SHAPE.tgt), "--beams", String(SHAPE.beams),
    "--new", String(SHAPE.newTokens), "--warmup", String(spec.warmup), "--steps", String(spec.steps)], 1_800_000, `torch_seq2seq ${spec.mode}`)
    .then((r) => (r ? { ...r, peakRssMiB: r.peak_rss_mib } : null));
}

export const seq2seqSuite: Suite = {
  name: "seq2seq",
  description: "t5-small-shaped LoRA train step (b8, src 128, tgt 64) and beam-4 generation of 32 tokens vs PyTorch+PEFT / transformers generate (--rounds=N)",
  async run(opts: BenchOptions, emit: (r: BenchRow) => void): Promise<void> {
    const threads = await benchThreads(opts);
    const rounds = Number(argValue(opts, "--rounds") ?? 1);
    const py = findTorchPython();
    if (!opts.json) {
      console.log(`# seq2seq: threads ${threads}; torch: ${py ? py.version : "absent (references skipped)"}; ${rounds} round(s), best round; each case in its own process; ${workerMode(fileURLToPath(import.meta.url))}\n` +
        `# train tok/s = batch·(source+target) / median step; generate tok/s = batch·32 new tokens / median call; rss = peak RSS of the case's process\n` +
        `# tok/cpu-s: the same per CPU second of the case's process (all its threads): at --threads 1 the steadier figure on a loaded machine\n` +
        `# ratio tok/s = ours/torch, ratio rss = torch/ours (> 1 = ours better). CPU shared with other jobs: figures are noisy.`);
    }
    for (const mode of ["train", "generate"] as const) {
      const spec: Spec = { mode, threads, warmup: 1, steps: opts.quick ? 1 : mode === "train" ? 3 : 2 };
      const name = mode === "train" ? `t5-small lora b8 src128 tgt64 t${threads}` : `t5-small beam4 new32 b8 src128 t${threads}`;
      const ours: (number | null)[] = [], oursRss: (number | null)[] = [], ref: (number | null)[] = [], refRss: (number | null)[] = [];
      const oursCpu: (number | null)[] = [], refCpu: (number | null)[] = [];
      const tokens = mode === "train" ? SHAPE.batch * (SHAPE.src + SHAPE.tgt) : SHAPE.batch * SHAPE.newTokens;
      let info: ChildResult | null = null, refLoad: number | null = null;
      for (let r = 0; r < rounds; r++) {
        await alternate(r, async () => {
          const o = await runWorker(fileURLToPath(import.meta.url), spec);
          ours.push((o?.tokPerS as number) ?? null);
          oursCpu.push((o?.tokPerCpuS as number) ?? null);
          oursRss.push(o?.peakRssMiB ?? null);
          info = o ?? info;
        }, async () => {
          const t = await torchRun(spec);
          ref.push(t ? tokens / t.median_s : null);
          refCpu.push(t ? tokens / t.median_cpu_s : null);
          refRss.push(t?.peakRssMiB ?? null);
          refLoad = t?.foreign_cpu_cores_avg ?? refLoad;
        });
      }
      const o = bestOf(ours);
      if (o === null) continue;
      if (!opts.json && info) {
        const i = info as ChildResult;
        const losses = i.losses as number[] | undefined;
        console.log(`#   ${name}: backend ${i.backend}${losses ? `, trainable ${i.trainable}, loss ${losses[0].toFixed(4)} -> ${losses.at(-1)!.toFixed(4)}` : ""}, step seconds ${(i.times as number[]).map((x) => x.toFixed(2)).join(" ")}`);
        console.log(loadLine(name, i.foreign, refLoad));
      }
      emit(rateRow("seq2seq", `${name} tok/s`, o, bestOf(ref), "tok/s"));
      // tokens per CPU second of the process: at 1 thread the steadier figure when other jobs share the CPU
      emit(rateRow("seq2seq", `${name} tok/cpu-s`, bestOf(oursCpu)!, bestOf(refCpu), "tok/cs"));
      emit(rssRow("seq2seq", `${name} rss`, lowestOf(oursRss)!, lowestOf(refRss)));
    }
  },
};

runAsWorker(import.meta.url, worker);
