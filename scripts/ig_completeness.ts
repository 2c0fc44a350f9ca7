// IG completeness on SST-2 dev sentences: |Σ attributions − (f(x) − f(baseline))| relative to
// |f(x) − f(baseline)| per sentence, for a sequence classifier (default the demo's model,
// models/llama-mini-en, with a seeded new head; --adapter for a trained one, e.g. the demo's).
// Usage: npx tsx scripts/ig_completeness.ts [--model DIR] [--adapter DIR] [--n 50] [--steps 50] [--method gausslegendre]
import "../src/node.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AutoModelForSequenceClassification } from "../src/models/auto.js";
import { AutoTokenizer } from "../src/io/tokenizer.js";
import { PeftModel } from "../src/peft/index.js";
import { manualSeed } from "../src/tensor/random.js";
import { integratedGradients, type ExplainableModel, type IntegrationMethod } from "../src/explain/index.js";

const arg = (k: string, d: string) => {
  const i = process.argv.indexOf(`--${k}`);
  return i > 0 ? process.argv[i + 1] : d;
};
const root = join(import.meta.dirname, "..");
const modelDir = arg("model", join(root, "models", "llama-mini-en"));
const adapter = arg("adapter", "");
const n = Number(arg("n", "50")), nSteps = Number(arg("steps", "50")), method = arg("method", "gausslegendre") as IntegrationMethod;
const dev = arg("dev", join(root, "..", "shared", "fixtures", "sst2", "dev.tsv"));

manualSeed(0);
const base = await AutoModelForSequenceClassification.fromPretrained(modelDir, { numLabels: 2, log: () => {} });
const model = (adapter ? await PeftModel.fromPretrained(base, adapter, { warn: () => {} }) : base) as unknown as ExplainableModel;
const tok = await AutoTokenizer.fromPretrained(modelDir);
const rows = readFileSync(dev, "utf8").trim().split("\n").slice(1, 1 + n).map((l) => l.split("\t")[0]);
const rel: number[] = [];
let tokens = 0;
const t0 = performance.now();
for (const text of rows) {
  const inputIds = tok.encode(text);
  tokens += inputIds.length;
  const r = integratedGradients(model, { inputIds }, { target: { kind: "sequence-classification" }, nSteps, method, keepTokenIds: tok.allSpecialIds });
  rel.push(Math.abs(r.convergenceDelta) / Math.abs(r.score - r.baselineScore));
}
const s = (performance.now() - t0) / 1000;
rel.sort((a, b) => a - b);
console.log(JSON.stringify({
  model: modelDir, adapter: adapter || null, sentences: rows.length, n_steps: nSteps, method, mean_tokens: tokens / rows.length,
  relative_delta: { max: rel[rel.length - 1], median: rel[Math.floor(rel.length / 2)], mean: rel.reduce((a, b) => a + b, 0) / rel.length },
  within_1_percent: rel.filter((x) => x <= 0.01).length, seconds: Number(s.toFixed(2)), seconds_per_sentence: Number((s / rows.length).toFixed(3)),
}, null, 1));
