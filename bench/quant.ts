// Suite "quant": one LoRA all-linear training step (r 8, alpha 16, forward + loss + backward + AdamW +
// zero grad, gradient checkpointing on) on a frozen base stored bf16, int8 or NF4 (+ double quant),
// on llama-small and the Qwen2-0.5B shape (bench/sizes.ts), random weights. The base is built layer
// by layer (each Linear's f32 weight drawn, then stored bf16 / quantised, so no full f32 model ever
// exists and peak RSS reflects the storage format); embeddings and norms stay bf16 / f32 as with
// transformers' bitsandbytes loading (torch_dtype bf16); the quantised layers compute in bf16. Reports tok/s, peak RSS and the base's
// weight bytes (all frozen tensors; and the Linear weights alone), side by side with PyTorch + PEFT
// fp32 and bf16 (bench/reference/torch_sizes.py). bitsandbytes has no CPU kernels here, so there is
// no PyTorch 8-/4-bit reference. Targets (issue 21): NF4 Linear-weight memory ≤ 0.35× bf16, step ≤ 1.3× bf16.
// Worker: `node --import tsx bench/quant.ts --worker '<json>'`.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchOptions, BenchRow, Suite } from "./common.js";
import { benchSrc, rateRow, runAsWorker } from "./common.js";
import { findTorchPython } from "./torch.js";
import { argValue, benchThreads, timeSteps, median, peakRssMiB, rssRow, runChild, runWorker, workerSetup } from "./lora.js";
import { QWEN2_05B } from "./sizes.js";
import { SHAPES } from "./lora_shapes.js";

type QModel = "llama-small" | "qwen2-0.5b";
type QBase = "bf16" | "int8" | "nf4" | "nf4-dq";
const TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

interface QuantSpec { model: QModel; base: QBase; batch: number; seq: number; threads: number; warmup: number; steps: number }

const hfConfig = (m: QModel): Record<string, unknown> => (m === "qwen2-0.5b" ? QWEN2_05B : SHAPES["llama-small"].hf);

async function quantWorker(spec: QuantSpec): Promise<Record<string, unknown>> {
  const backend = await workerSetup(spec);
  const { parseConfig } = await import("../src/io/hf_config.js");
  const { AutoModelForCausalLM } = await import("../src/models/auto.js");
  const { withDeferredWeights, isDeferred, Linear } = await import("../src/nn/layers.js");
  const { QuantLinear } = await import("../src/nn/quant_linear.js");
  const { defaultSkipModules } = await import("../src/models/quantize.js");
  const { Tensor } = await import("../src/tensor/tensor.js");
  const { getPeftModel, LoraConfig } = await import("../src/peft/index.js");
  const { AdamW } = await import("../src/train/optim/index.js");
  const { enableGradientCheckpointing } = await import("../src/train/grad_checkpoint.js");
  const { Rng } = await import("../src/tensor/random.js");
  const hf = hfConfig(spec.model);
  const cfg = parseConfig(hf, `bench:${spec.model}`);
  const model = withDeferredWeights(() => AutoModelForCausalLM.fromConfig(cfg));
  const rng = new Rng(7);
  const skip = defaultSkipModules(model);
  const format = spec.base === "bf16" ? null : spec.base === "int8" ? "int8" : "nf4";
  let linearBytes = 0;
  const tiedDst = new Set(Object.keys(model.tiedWeights()));
  // the f32 draws become garbage at once; collect them as we go so that peak RSS shows the stored format
  // (the native addon keeps freed heap memory mapped, so uncollected garbage would stay in the RSS)
  const { setFlagsFromString } = await import("node:v8");
  const { runInNewContext } = await import("node:vm");
  setFlagsFromString("--expose_gc");
  const gc = runInNewContext("gc") as () => void;
  // materialise module by module: draw its tensors in f32, then store its Linear weight quantised (or
  // bf16), other 2-d weights bf16 and 1-d tensors (norms, biases) f32
  for (const [path, m] of model.namedModules()) {
    const own = m.ownParameters().filter(([name, p]) => p && isDeferred(p) && !tiedDst.has(path ? `${path}.${name}` : name));
    if (own.length === 0) continue;
    for (const [name, p] of own) {
      const f = new Float32Array(p!.size);
      if (p!.ndim === 2) rng.fillNormal(f, 0, 0.02);
      else if (name === "weight") f.fill(1);
      const t = new Tensor(f, p!.shape);
      t.name = p!.name;
      m.registerParameter(name, t);
    }
    const quantise = m instanceof Linear && path !== "" && !skip.some((k) => path === k || path.endsWith("." + k));
    if (quantise && format) {
      // compute dtype bf16 (QLoRA's bnb_4bit_compute_dtype=bfloat16), as the bf16 base computes in bf16
      const ql = QuantLinear.fromLinear(m as InstanceType<typeof Linear>, format, { doubleQuant: spec.base === "nf4-dq", computeDtype: "bf16" });
      model.setSubmodule(path, ql);
      m.registerParameter("weight", null); // the namedModules() list still holds the old Linear: let its f32 go
      linearBytes += ql.weightBytes() - (ql.bias ? ql.bias.size * 4 : 0);
      gc();
      continue;
    }
    for (const [name, p] of m.ownParameters()) {
      if (!p || p.ndim !== 2 || p.dtype !== "f32" || !own.some(([n]) => n === name)) continue;
      const low = p.to("bf16");
      low.name = p.name;
      m.registerParameter(name, low);
      if (quantise && name === "weight") linearBytes += low.size * 2;
    }
    gc();
  }
  model.tieWeights();
  const builtRssMiB = process.memoryUsage().rss / 2 ** 20;
  const pm = getPeftModel(model, new LoraConfig({ taskType: "CAUSAL_LM", r: 8, loraAlpha: 16, loraDropout: 0, targetModules: TARGETS }));
  enableGradientCheckpointing(pm);
  let weightBytes = 0;
  for (const p of pm.parameters()) if (!p.requiresGrad) weightBytes += p.size * (p.dtype === "f32" ? 4 : 2);
  for (const [, m] of pm.namedModules()) if (m instanceof QuantLinear) weightBytes += m.weightBytes() - (m.bias ? m.bias.size * 4 : 0);
  const params = pm.parameters().filter((p) => p.requiresGrad);
  const opt = new AdamW(params, { lr: 1e-4, weightDecay: 0.01 });
  const V = hf.vocab_size as number;
  const ids = Array.from({ length: spec.batch }, () => Array.from({ length: spec.seq }, () => rng.randint(V)));
  const inputs: Record<string, unknown> = { inputIds: ids, attentionMask: ids.map((r) => r.map(() => 1)), labels: ids };
  pm.train();
  let loss = NaN;
  const { times, foreign } = timeSteps(() => {
    const out = pm.forward(inputs as never) as { loss: InstanceType<typeof Tensor> };
    out.loss.backward();
    opt.step();
    pm.zeroGrad();
    loss = out.loss.item();
  }, spec.warmup, spec.steps);
  const med = median(times);
  return {
    backend, foreign, medianS: med, tokPerS: (spec.batch * spec.seq) / med, loss, peakRssMiB: peakRssMiB(),
    weightMiB: weightBytes / 2 ** 20, linearMiB: linearBytes / 2 ** 20, builtRssMiB,
  };
}

async function torchCase(model: QModel, dtype: "fp32" | "bf16", spec: QuantSpec): Promise<{ tokPerS: number | null; peakRssMiB: number | null }> {
  const py = findTorchPython();
  if (!py) return { tokPerS: null, peakRssMiB: null };
  const r = await runChild(py.python, [
    join(benchSrc, "reference", "torch_sizes.py"), "--config", JSON.stringify(hfConfig(model)), "--batch", String(spec.batch), "--seq", String(spec.seq),
    "--targets", TARGETS.join(","), "--dtype", dtype, "--gc", "1", "--threads", String(spec.threads), "--warmup", String(spec.warmup), "--steps", String(spec.steps),
  ], 1_800_000, `torch_sizes ${model} ${dtype}`);
  return r ? { tokPerS: r.tokens_per_s as number, peakRssMiB: r.peak_rss_mib as number } : { tokPerS: null, peakRssMiB: null };
}

export const quantSuite: Suite = {
  name: "quant",
  description: "LoRA step on bf16 / int8 / NF4 frozen bases (llama-small, Qwen2-0.5B shape): tok/s, peak RSS, weight MiB vs PyTorch fp32/bf16 (--model=llama-small,qwen2-0.5b; --bases=bf16,int8,nf4,nf4-dq; --batch=N; --seq=N; --no-torch)",
  async run(opts: BenchOptions, emit: (r: BenchRow) => void): Promise<void> {
    const threads = await benchThreads(opts);
    const models = (argValue(opts, "--model") ?? "llama-small,qwen2-0.5b").split(",") as QModel[];
    for (const m of models) if (m !== "llama-small" && m !== "qwen2-0.5b") throw new Error(`--model: unknown '${m}'`);
    const bases = (argValue(opts, "--bases") ?? "bf16,int8,nf4,nf4-dq").split(",") as QBase[];
    const torch = !opts.args.includes("--no-torch");
    const steps = opts.quick ? 1 : 2;
    if (!opts.json) {
      console.log(`# quant: threads ${threads}; torch ${torch ? findTorchPython()?.version ?? "absent" : "off"} (fp32 and bf16 autocast; bitsandbytes has no CPU backend here, so no PyTorch int8/NF4 row); quantised layers compute in bf16 (bf16 base: our bf16 GEMM, oneDNN bf16 where the CPU has it); gradient checkpointing on; warmup 1, median of ${steps}; each case in its own process; CPU shared with other jobs: noisy`);
    }
    for (const model of models) {
      const batch = Number(argValue(opts, "--batch") ?? (model === "qwen2-0.5b" ? 1 : 4));
      const seq = Number(argValue(opts, "--seq") ?? (model === "qwen2-0.5b" ? 256 : 128));
      const spec = (base: QBase): QuantSpec => ({ model, base, batch, seq, threads, warmup: 1, steps });
      const refs = torch ? { fp32: await torchCase(model, "fp32", spec("bf16")), bf16: await torchCase(model, "bf16", spec("bf16")) } : null;
      if (refs && !opts.json) console.log(`#   ${model} torch: fp32 ${refs.fp32.tokPerS?.toFixed(1) ?? "n/a"} tok/s ${refs.fp32.peakRssMiB?.toFixed(0) ?? "-"} MiB; bf16 ${refs.bf16.tokPerS?.toFixed(1) ?? "n/a"} tok/s ${refs.bf16.peakRssMiB?.toFixed(0) ?? "-"} MiB`);
      let bf16: Record<string, number> | null = null;
      for (const base of bases) {
        const r = await runWorker(fileURLToPath(import.meta.url), spec(base));
        if (!r) continue;
        const res = r as unknown as Record<string, number>;
        if (base === "bf16") bf16 = res;
        const name = `${model} lora-all ${base} base b${batch}s${seq} t${threads}`;
        if (!opts.json) {
          const rel = bf16 && base !== "bf16" ? `; vs bf16 base: step ${(bf16.tokPerS / res.tokPerS).toFixed(2)}x time, Linear weights ${(res.linearMiB / bf16.linearMiB).toFixed(3)}x, all frozen weights ${(res.weightMiB / bf16.weightMiB).toFixed(3)}x, peak RSS ${(res.peakRssMiB / bf16.peakRssMiB).toFixed(3)}x` : "";
          console.log(`#   ${name}: loss ${res.loss.toFixed(3)}, frozen weights ${res.weightMiB.toFixed(1)} MiB (Linear ${res.linearMiB.toFixed(1)} MiB), RSS after building ${res.builtRssMiB.toFixed(0)} MiB, foreign load ${res.foreign.toFixed(2)}${rel}`);
        }
        emit(rateRow("quant", `${name} tok/s vs torch bf16`, res.tokPerS, refs?.bf16.tokPerS ?? null, "tok/s"));
        if (refs) emit(rateRow("quant", `${name} tok/s vs torch fp32`, res.tokPerS, refs.fp32.tokPerS, "tok/s"));
        emit(rssRow("quant", `${name} peak rss vs torch bf16`, res.peakRssMiB, refs?.bf16.peakRssMiB ?? null));
        emit({ suite: "quant", case: `${name} frozen weights vs our bf16 base`, ours: res.weightMiB, reference: bf16?.weightMiB ?? null, unit: "MiB", ratio: bf16 ? bf16.weightMiB / res.weightMiB : null });
      }
    }
  },
};

runAsWorker(import.meta.url, quantWorker);
