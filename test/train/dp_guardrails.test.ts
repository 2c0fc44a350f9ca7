// DP-SGD guardrails (trainer_dp.ts dpGuardrails, the Distiller's dp check): settings that narrow or
// bypass the guarantee are refused or warned about with the reason; gradient accumulation draws
// the noise once per logical batch. (Label smoothing is accepted as is: dp_ghost.test.ts trains with it.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Trainer, TrainingArguments } from "../../src/train/index.js";
import type { GaussianSource } from "../../src/train/dp/index.js";
import { ConfigError } from "../../src/tensor/errors.js";
import { Dataset } from "../../src/data/datasets.js";
import { packTexts } from "../../src/data/tasks/causal_lm.js";
import { AutoTokenizer } from "../../src/io/tokenizer.js";
import { Distiller } from "../../src/distill/distiller.js";
import { TinyRegressor, regressionData, regressionCollator } from "./helpers.js";
import { loadBert, tmp } from "../peft/helpers.js";

const N = 32;
function args(extra: Record<string, unknown> = {}): TrainingArguments {
  return TrainingArguments.fromDict({ output_dir: tmp("dp-guard-"), disable_tqdm: true, save_strategy: "no", report_to: ["none"], learning_rate: 0.05, optim: "sgd", per_device_train_batch_size: 4, gradient_accumulation_steps: 2, max_steps: 2, dp: true, dp_noise_multiplier: 1, ...extra });
}

/** The warnings emitted (process.emitWarning) while fn runs: [code, message]. */
async function warnings(fn: () => Promise<unknown>): Promise<[string, string][]> {
  const seen: [string, string][] = [];
  const orig = process.emitWarning;
  process.emitWarning = ((msg: string, o?: { code?: string }) => { seen.push([o?.code ?? "", String(msg)]); }) as typeof process.emitWarning;
  try {
    await fn();
  } finally {
    process.emitWarning = orig;
  }
  return seen;
}
const run = (a: TrainingArguments, ds: unknown = regressionData(N)) => new Trainer({ model: new TinyRegressor(), args: a, trainDataset: ds as never, dataCollator: regressionCollator }).train();

test("dataloader_drop_last with Poisson sampling and a max_grad_norm are ignored with a warning naming why; the defaults warn nothing", async () => {
  const w1 = await warnings(() => run(args({ dataloader_drop_last: true })));
  assert.ok(w1.some(([c, m]) => c === "PeftTsDpDropLast" && /dataloader_drop_last is ignored with Poisson sampling/.test(m)), JSON.stringify(w1));
  const w2 = await warnings(() => run(args({ max_grad_norm: 0.3, dp_max_grad_norm: 2 })));
  assert.ok(w2.some(([c, m]) => c === "PeftTsDpMaxGradNorm" && /max_grad_norm 0\.3 .* is ignored under DP-SGD.*dp_max_grad_norm 2/.test(m)), JSON.stringify(w2));
  assert.deepEqual(await warnings(() => run(args())), []);
  // without Poisson sampling drop_last keeps its meaning (and the sampling warning comes instead)
  const w4 = await warnings(() => run(args({ dataloader_drop_last: true, dp_poisson_sampling: false })));
  assert.deepEqual(w4.map(([c]) => c), ["PeftTsDpSampling"]);
});

test("packed causal-LM text blocks: the warning says the unit of privacy is the block, not the text", async () => {
  const tok = await AutoTokenizer.fromPretrained(join(new URL("../../../shared/fixtures/", import.meta.url).pathname, "models/llama-mini-en"));
  const texts = Dataset.fromRows(Array.from({ length: 12 }, (_, i) => ({ text: `row ${i}: the quick brown fox jumps over the lazy dog again and again` })));
  const packed = packTexts(texts, tok, { blockSize: 8 });
  assert.equal((packed as { examplesSpanRows?: boolean }).examplesSpanRows, true);
  // only the check: the regression model cannot train on token blocks, so the run stops at its first forward
  const w = await warnings(() => run(args({ per_device_train_batch_size: 1, gradient_accumulation_steps: 1 }), packed).catch(() => undefined));
  assert.ok(w.some(([c, m]) => c === "PeftTsDpPacking" && /packed blocks.*protects each block, not each text or user/.test(m)), JSON.stringify(w));
});

test("Distiller with dp: refused unless dp_teacher_public acknowledges the teacher never saw the private data", async () => {
  const teacher = await loadBert(), student = await loadBert();
  const opts = { model: student, teacher, trainDataset: [{ inputIds: [2, 5, 6], labels: 1 }, { inputIds: [2, 7], labels: 0 }] };
  assert.throws(() => new Distiller({ ...opts, args: args({ per_device_train_batch_size: 1, gradient_accumulation_steps: 1 }) }),
    (e: Error) => e instanceof ConfigError && /Distiller with dp: a teacher trained on the private training data.*dp_teacher_public: true/.test(e.message));
  const d = new Distiller({ ...opts, args: args({ per_device_train_batch_size: 1, gradient_accumulation_steps: 1, dp_teacher_public: true, max_steps: 1 }) });
  const out = await d.train();
  assert.equal(out.globalStep, 1);
  assert.ok((out.metrics.dp_epsilon as number) > 0);
});

test("gradient accumulation: the noise is drawn once per optimizer step (logical batch), not per micro-batch", async () => {
  for (const ga of [1, 4]) {
    let draws = 0;
    const counting: GaussianSource = (out, std) => { draws++; assert.equal(std, 0.5 * 1); out.fill(0); };
    const t = new Trainer({ model: new TinyRegressor(), args: args({ gradient_accumulation_steps: ga, per_device_train_batch_size: 2, max_steps: 3, dp_max_grad_norm: 0.5 }), trainDataset: regressionData(N), dataCollator: regressionCollator });
    t.dpNoise = counting;
    await t.train();
    const params = new TinyRegressor().parameters().length;
    assert.equal(draws, 3 * params, `accumulation ${ga}: ${draws} draws for 3 steps × ${params} parameters`);
  }
});
