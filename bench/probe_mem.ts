// Memory probe for one LoRA step at the bench shapes: live ArrayBuffer bytes at each phase and the
// maximum seen inside kernels (sampled in every GEMM call).
// Usage: node --expose-gc --import tsx bench/probe_mem.ts [bert-small|llama-small] [all] [bf16] [nogc] [stepgc]
// (nogc: no forced collection when printing; stepgc: a full collection after each forward and backward)
import "../src/node.js"; // the Node implementations (files, backends, MPI) behind the core
import { buildModel, makeBatch, loraTargets, SHAPES, type ModelName } from "./lora.js";
import { getPeftModel, LoraConfig } from "../src/peft/index.js";
import { AdamW } from "../src/train/optim/index.js";
import { storeFrozenWeights } from "../src/train/amp.js";
import { getBackend } from "../src/backend/registry.js";

const model = (process.argv[2] ?? "llama-small") as ModelName;
const all = process.argv.includes("all"), bf16 = process.argv.includes("bf16");
const gc = (globalThis as any).gc as () => void;
const MB = (b: number) => (b / 1048576).toFixed(1);
const mem = () => process.memoryUsage();
const nogc = process.argv.includes("nogc"), stepgc = process.argv.includes("stepgc");
const line = (what: string) => {
  if (!nogc) gc();
  const m = mem();
  console.log(`${what.padEnd(28)} rss ${MB(m.rss)}  arrayBuffers ${MB(m.arrayBuffers)}  heapUsed ${MB(m.heapUsed)}`);
};
line("start");
const s = SHAPES[model];
const base = await buildModel(model);
line("model built");
const pm = getPeftModel(base, new LoraConfig({ taskType: s.kind === "bert" ? "SEQ_CLS" : "CAUSAL_LM", r: 8, loraAlpha: 16, loraDropout: 0, targetModules: loraTargets(model, all) }));
if (bf16) storeFrozenWeights(pm, "bf16");
line("peft model");
const params = pm.parameters().filter((p: { requiresGrad: boolean }) => p.requiresGrad);
const opt = new AdamW(params, { lr: 1e-4, weightDecay: 0.01 });
const { inputs } = await makeBatch(model, true);
pm.train();
const be = getBackend() as any;
let peakAB = 0, peakWhere = "", peakRss = 0, peakRssWhere = "";
let phase = "";
for (const k of process.argv.includes("nowrap") ? [] : ["matmul", "matmulBf16", "attention", "attentionBackward", "crossEntropyBackward"]) {
  const f = be[k];
  be[k] = (...a: unknown[]) => {
    const m = process.memoryUsage();
    if (m.arrayBuffers > peakAB) { peakAB = m.arrayBuffers; peakWhere = `${phase} ${k}`; }
    if (m.rss > peakRss) { peakRss = m.rss; peakRssWhere = `${phase} ${k} (arrayBuffers then ${MB(m.arrayBuffers)})`; }
    return f(...a);
  };
}
for (let i = 0; i < 3; i++) {
  peakAB = 0;
  phase = "forward";
  let out: any = pm.forward(inputs);
  if (i === 2) line("after forward");
  if (stepgc) gc();
  phase = "backward";
  out.loss!.backward();
  if (stepgc) gc();
  if (i === 2) line("after backward");
  opt.step();
  pm.zeroGrad();
  out = null;
  if (i === 2) line("after step");
  console.log(`step ${i}: peak arrayBuffers ${MB(peakAB)} MB at ${peakWhere}; peak rss ${MB(peakRss)} at ${peakRssWhere}; rss now ${MB(mem().rss)}`);
}
console.log(`maxRSS ${MB(process.resourceUsage().maxRSS * 1024)}`);
