// The LoRA step of `npm run bench -- web` on the library itself (src/core.ts, portable: the browser
// worker bundles it; Node runs it on the native backend): a sequence classifier built from an HF config
// (random HF init), LoRA r 8 / alpha 16 on the given targets, one forward + cross entropy + backward +
// AdamW step + zero grad on a fixed random batch, on whatever backend is active. bert-small: the bench
// shape (b8 s128, q/v); llama-mini-en: the demo recipe's (b32 s64, all linear layers).
import { AdamW, AutoModelForSequenceClassification, LoraConfig, Rng, getPeftModel, parseConfig } from "../../src/core.js";
import { SHAPES, loraTargets } from "../lora_shapes.js";
import { medianMs } from "./workloads.js";

export interface LoraCase {
  name: string;
  kind: "bert" | "llama";
  hf: Record<string, unknown>;
  batch: number;
  seq: number;
  targets: string[];
}

/** The two cases; llama-mini-en's config is read by the caller (models/llama-mini-en/config.json). */
export function loraCases(llamaMiniConfig: Record<string, unknown>): LoraCase[] {
  const b = SHAPES["bert-small"];
  return [
    { name: "bert-small", kind: "bert", hf: b.hf, batch: b.batch, seq: b.seq, targets: loraTargets("bert-small", false) },
    { name: "llama-mini-en", kind: "llama", hf: { ...llamaMiniConfig, num_labels: 2 }, batch: 32, seq: 64,
      targets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] },
  ];
}

/** Tokens/s of LoRA training steps (median over ~budgetMs after a warm-up step) and the last loss. */
export function loraTokensPerS(c: LoraCase, budgetMs: number): { tokPerS: number; loss: number } {
  const base = AutoModelForSequenceClassification.fromConfig(parseConfig(c.hf, `bench:${c.name}`));
  const pm = getPeftModel(base, new LoraConfig({ taskType: "SEQ_CLS", r: 8, loraAlpha: 16, loraDropout: 0, targetModules: c.targets }));
  const params = pm.parameters().filter((p) => p.requiresGrad);
  const opt = new AdamW(params, { lr: 1e-4, weightDecay: 0.01 });
  const rng = new Rng(1234);
  const V = c.hf.vocab_size as number;
  // ids from 1: 0 is llama-mini-en's pad token
  const ids = Array.from({ length: c.batch }, () => Array.from({ length: c.seq }, () => 1 + rng.randint(V - 1)));
  const inputs: Record<string, unknown> = { inputIds: ids, attentionMask: ids.map((r) => r.map(() => 1)), labels: ids.map(() => rng.randint(2)) };
  if (c.kind === "bert") inputs.tokenTypeIds = ids.map((r) => r.map(() => 0));
  pm.train();
  let loss = NaN;
  const ms = medianMs(() => {
    const out = pm.forward(inputs as never);
    out.loss!.backward();
    opt.step();
    pm.zeroGrad();
    loss = out.loss!.item();
  }, budgetMs, 5);
  return { tokPerS: (c.batch * c.seq) / (ms / 1000), loss };
}
