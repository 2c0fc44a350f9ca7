// Suite "infer": forward tokens/s (eval mode, no grad) for the bert-small (b8 s128) and llama-small
// (b4 s256) shapes of /work/shared/bench/torch_peft_bench.py, random init, side by side with
// `torch_peft_bench.py --mode infer` at the same thread count (fp32 vs fp32; bf16-stored weights vs
// torch --dtype bf16 autocast); plus greedy generation tokens/s with the KV cache for
// models/llama-mini-en vs transformers generate() on the same files (bench/hf_generate.py).
// Each case runs in its own child process (peak RSS per case); the worker is this file:
// `node --import tsx bench/infer.ts --worker '<json>'`.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchOptions, BenchRow, Suite } from "./common.js";
import { benchSrc, rateRow, repoRoot, runAsWorker, workerMode } from "./common.js";
import { findTorchPython } from "./torch.js";
import {
  argValue, benchThreads, bestOf, buildModel, ChildResult, cpuSnapshot, foreignLoad, timeSteps, loadLine, lowestOf, makeBatch, median, ModelName, peakRssMiB, rssRow, runChild,
  alternate, bf16SkipLine, runTorchBench, runWorker, SHAPES, selectModels, torchBenchScript, torchBf16Enabled, workerSetup,
} from "./lora.js";

const GEN_MODEL = join(repoRoot, "models", "llama-mini-en");
/** A fixed prompt (ids of the 8000-token vocabulary; 2 = BOS). */
const GEN_PROMPT = [[2, 45, 120, 300, 17, 88, 900, 12]];

interface ForwardSpec {
  kind: "forward";
  model: ModelName;
  bf16: boolean;
  threads: number;
  warmup: number;
  steps: number;
  bf16Gemm?: string;
}
interface GenerateSpec {
  kind: "generate";
  threads: number;
  newTokens: number;
  reps: number;
}

async function forwardWorker(spec: ForwardSpec): Promise<Record<string, unknown>> {
  const backend = await workerSetup(spec);
  const { noGrad } = await import("../src/tensor/autograd.js");
  const { storeFrozenWeights } = await import("../src/train/amp.js");
  const model = await buildModel(spec.model);
  model.eval();
  model.requiresGrad_(false);
  if (spec.bf16) storeFrozenWeights(model, "bf16");
  const { inputs, tokens } = await makeBatch(spec.model, false);
  const { times, foreign } = noGrad(() => timeSteps(() => model.forward(inputs), spec.warmup, spec.steps));
  const med = median(times);
  return { backend, foreign, times, medianS: med, tokPerS: tokens / med, peakRssMiB: peakRssMiB() };
}

async function generateWorker(spec: GenerateSpec): Promise<Record<string, unknown>> {
  const backend = await workerSetup(spec);
  const { AutoModelForCausalLM } = await import("../src/models/auto.js");
  const model = await AutoModelForCausalLM.fromPretrained(GEN_MODEL);
  model.eval();
  const gen = (n: number) => (model as { generate(ids: number[][], o: object): number[][] }).generate(GEN_PROMPT, { maxNewTokens: n, doSample: false, eosTokenId: null });
  gen(8);
  const times: number[] = [];
  let out: number[][] = [];
  const snap0 = cpuSnapshot();
  for (let i = 0; i < spec.reps; i++) {
    const t0 = performance.now();
    out = gen(spec.newTokens);
    times.push((performance.now() - t0) / 1000);
  }
  const foreign = foreignLoad(snap0, cpuSnapshot());
  const med = median(times);
  return {
    backend, foreign, times, medianS: med, tokPerS: (GEN_PROMPT.length * spec.newTokens) / med,
    tokens: out.map((r) => r.slice(GEN_PROMPT[0].length)), peakRssMiB: peakRssMiB(),
  };
}

export const inferSuite: Suite = {
  name: "infer",
  description: "forward tok/s (bert-small, llama-small; fp32 and bf16 weights) vs torch_peft_bench.py --mode infer, llama-mini-en greedy generate tok/s vs HF transformers (--model=NAME; --rounds=N; --torch-bf16: torch bf16 refs without AVX512_BF16/AMX)",
  async run(opts: BenchOptions, emit: (r: BenchRow) => void): Promise<void> {
    const threads = await benchThreads(opts);
    const rounds = Number(argValue(opts, "--rounds") ?? 1);
    const bf16Gemm = argValue(opts, "--bf16-gemm");
    const self = fileURLToPath(import.meta.url);
    const py = findTorchPython(), script = torchBenchScript();
    const bf16Ref = torchBf16Enabled(opts);
    if (!opts.json)
      console.log(
        bf16SkipLine(bf16Ref) +
        `# infer: threads ${threads}; torch: ${py && script ? `${py.version} (${script})` : "absent (references skipped)"}; ${rounds} round(s), best round; each case in its own process; ${workerMode(self)}\n` +
          `# fwd = eval forward, no grad; bf16 = ours: weights stored bf16 (GEMM mode ${bf16Gemm ?? "default"}), torch: --dtype bf16 (autocast); rss = peak RSS of the case's process\n` +
          `# generate = greedy, KV cache, no EOS stop, vs transformers generate() on the same files (bench/hf_generate.py)\n` +
          `# ratio tok/s = ours/torch, ratio rss = torch/ours (> 1 = ours better). CPU shared with other jobs: figures are noisy.`,
      );
    for (const model of selectModels(opts, ["bert-small", "llama-small"])) {
      const s = SHAPES[model];
      const small = model === "bert-small";
      const warmup = opts.quick ? 1 : 2;
      const steps = opts.quick ? 2 : small ? 5 : 3;
      for (const dtype of ["fp32", "bf16"] as const) {
        const name = `${model} fwd ${dtype} b${s.batch}s${s.seq} t${threads}`;
        const ours: (number | null)[] = [], oursRss: (number | null)[] = [], ref: (number | null)[] = [], refRss: (number | null)[] = [];
        let oLoad: unknown = null, tLoad: unknown = null;
        for (let r = 0; r < rounds; r++) {
          const runOurs = async () => {
            const o = await runWorker(self, { kind: "forward", model, bf16: dtype === "bf16", threads, warmup, steps, bf16Gemm });
            ours.push((o?.tokPerS as number) ?? null);
            oursRss.push(o?.peakRssMiB ?? null);
            oLoad = o?.foreign ?? oLoad;
          };
          const runRef = async () => {
            const t = dtype === "bf16" && !bf16Ref ? null : await runTorchBench({ model, mode: "infer", dtype, threads, warmup, steps });
            ref.push(t?.tokPerS ?? null);
            refRss.push(t?.peakRssMiB ?? null);
            tLoad = t?.foreignLoad ?? tLoad;
          };
          await alternate(r, runOurs, runRef);
        }
        const o = bestOf(ours);
        if (o === null) continue;
        if (!opts.json) console.log(loadLine(name, oLoad, tLoad));
        emit(rateRow("infer", `${name} tok/s`, o, bestOf(ref), "tok/s"));
        emit(rssRow("infer", `${name} rss`, lowestOf(oursRss)!, lowestOf(refRss)));
      }
    }

    // generation: llama-mini-en, greedy, KV cache, batch 1
    const newTokens = opts.quick ? 32 : 64, reps = opts.quick ? 2 : 3;
    const name = `llama-mini-en generate ${newTokens}tok b1 t${threads}`;
    const ours: (number | null)[] = [], oursRss: (number | null)[] = [], ref: (number | null)[] = [], refRss: (number | null)[] = [];
    let oursTok: unknown = null, refTok: unknown = null, genLoad: unknown = null;
    for (let r = 0; r < rounds; r++) {
      const runOurs = async () => {
        const o: ChildResult | null = await runWorker(self, { kind: "generate", threads, newTokens, reps });
        ours.push((o?.tokPerS as number) ?? null);
        oursRss.push(o?.peakRssMiB ?? null);
        oursTok = o?.tokens ?? oursTok;
        genLoad = o?.foreign ?? genLoad;
      };
      const runRef = async () => {
        const t = py
          ? await runChild(py.python, [join(benchSrc, "hf_generate.py"), GEN_MODEL, String(threads), String(newTokens), String(reps), JSON.stringify(GEN_PROMPT)], 900_000, "hf_generate.py")
          : null;
        ref.push(t?.tokPerS ?? null);
        refRss.push(t?.peakRssMiB ?? null);
        refTok = t?.tokens ?? refTok;
      };
      await alternate(r, runOurs, runRef);
    }
    const o = bestOf(ours);
    if (o === null) return;
    if (!opts.json) console.log(loadLine(name, genLoad, null));
    if (!opts.json && refTok)
      console.log(`#   generated ids ${JSON.stringify(oursTok) === JSON.stringify(refTok) ? "identical to" : "DIFFER from"} transformers' (greedy)`);
    emit(rateRow("infer", `${name} tok/s`, o, bestOf(ref), "tok/s"));
    emit(rssRow("infer", `${name} rss`, lowestOf(oursRss)!, lowestOf(refRss)));
  },
};

runAsWorker(import.meta.url, (spec: ForwardSpec | GenerateSpec) => (spec.kind === "generate" ? generateWorker(spec) : forwardWorker(spec)));
