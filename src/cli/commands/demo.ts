// peft-ts demo: the whole library in one run, on the bundled model and data.
//   1. llama-mini-en as a sequence classifier + SST-2 (train_5k.tsv, dev.tsv)
//   2. baseline: the untrained classification head on all dev rows
//   3. LoRA fine-tuning (the HF PEFT reference recipe, see DEMO_DEFAULTS)
//   4. fine-tuned accuracy vs baseline → metrics.json, adapter/, report.html
//   5. llama-mini-en as a causal LM, LoRA on a few hundred instruction rows, answers before/after
// Everything goes to --output_dir (default demo-output/).

import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { CliError } from "../errors.js";
import { Opts, isExplicit } from "../resolve.js";
import { readRows, stage } from "../pipeline.js";
import { finishRunReport, summaryLines, writeMetrics } from "../trainer_api.js";
import { formatDuration, formatPercent } from "../../report/format.js";
import { Trainer, TrainingArguments } from "../../train/index.js";
import { TextGenerator } from "../textgen.js";
import { AutoTokenizer } from "../../io/tokenizer.js";
import { AutoModelForCausalLM, AutoModelForSequenceClassification } from "../../models/auto.js";
import { preprocessSeqCls } from "../../data/tasks/seq_cls.js";
import { preprocessInstructions } from "../../data/tasks/causal_lm.js";
import { DataCollatorForCausalLM, DataCollatorWithPadding } from "../../data/collate.js";
import { accuracy, argmax } from "../../data/metrics.js";
import { LoraConfig, getPeftModel } from "../../peft/index.js";
import { manualSeed } from "../../tensor/random.js";
import { atomicWriteFile } from "../../io/fs.js";
import { nested } from "../../data/tasks/predictions.js";
import { packageRoot } from "../paths.js";
import { DEMO_DEFAULTS } from "../demo_defaults.js";

export { DEMO_DEFAULTS };

export const DEMO_PROMPTS = [
  "Give three tips for staying healthy.",
  "What is the capital of France?",
  "Classify the sentiment of this sentence: I loved this movie.",
  "Write a short poem about the sea.",
];

const SHARED = "/work/shared/fixtures";

/** A bundled file: <root>/<rel>, else the shared fixtures copy. */
export function bundled(rel: string, sharedRel: string): string {
  const p = join(packageRoot(), rel);
  if (existsSync(p)) return p;
  const s = join(SHARED, sharedRel);
  if (existsSync(s)) return s;
  throw new CliError(`bundled file missing: ${p} (reinstall the package or pass the path explicitly)`);
}

function num(opts: Opts, name: string, fallback: number): number {
  return isExplicit(opts, name) && opts[name] !== undefined ? Number(opts[name]) : fallback;
}

function seconds(t0: number): string {
  return formatDuration((Date.now() - t0) / 1000);
}

export async function run(opts: Opts): Promise<number> {
  const T0 = Date.now();
  const out = resolve(String(opts.output_dir ?? "demo-output"));
  const D = DEMO_DEFAULTS;
  const seed = num(opts, "seed", D.seed);
  const modelDir = opts.model_name_or_path ? String(opts.model_name_or_path) : bundled("models/llama-mini-en", "models/llama-mini-en");
  if (!existsSync(join(modelDir, "config.json"))) throw new CliError(`--model_name_or_path: no config.json in ${modelDir}`);
  const trainFile = bundled("data/sst2/train_5k.tsv", "sst2/train_5k.tsv");
  const devFile = bundled("data/sst2/dev.tsv", "sst2/dev.tsv");

  // ---------------------------------------------------------------- 1. model + data
  stage(`[1/5] loading ${modelDir} as a sequence classifier and SST-2 (${trainFile}, ${devFile})`);
  const tokenizer = await AutoTokenizer.fromPretrained(modelDir);
  const maxLength = num(opts, "max_length", D.max_length);
  const trainRows = await readRows(trainFile, {}, num(opts, "max_train_samples", D.max_train_samples));
  const devRows = await readRows(devFile, {}, num(opts, "max_eval_samples", D.max_eval_samples));
  const trainDs = preprocessSeqCls(trainRows, tokenizer, { maxLength });
  const devDs = preprocessSeqCls(devRows, tokenizer, { maxLength });
  manualSeed(seed);
  const clsModel = await AutoModelForSequenceClassification.fromPretrained(modelDir, { numLabels: 2, log: () => {} });
  const collator = new DataCollatorWithPadding(tokenizer);
  const computeMetrics = ({ predictions, labelIds }: { predictions: unknown; labelIds: unknown }) => ({
    accuracy: accuracy((labelIds as number[]).map(Number), argmax(nested(predictions))),
  });
  stage(`      ${trainDs.length} training sentences, ${devDs.length} dev sentences, max_length ${maxLength}`);

  const argsFor = (dir: string, extra: Record<string, unknown>) => TrainingArguments.fromDict({
    output_dir: dir,
    per_device_eval_batch_size: num(opts, "per_device_eval_batch_size", D.per_device_eval_batch_size),
    seed,
    ...extra,
  });

  // ---------------------------------------------------------------- 2. baseline
  stage(`[2/5] baseline: untrained classification head on ${devDs.length} dev rows`);
  let t = Date.now();
  const baseTrainer = new Trainer({ model: clsModel, args: argsFor(join(out, "baseline"), { report_to: [] }), evalDataset: devDs, dataCollator: collator, computeMetrics });
  const baseline = (await baseTrainer.evaluate()) as Record<string, number>;
  stage(`      baseline eval_accuracy ${(100 * baseline.eval_accuracy).toFixed(1)}% (${seconds(t)})`);

  // ---------------------------------------------------------------- 3. LoRA fine-tuning
  const lora = new LoraConfig({
    taskType: "SEQ_CLS", r: num(opts, "lora_r", D.lora_r), loraAlpha: num(opts, "lora_alpha", D.lora_alpha),
    targetModules: "all-linear", baseModelNameOrPath: modelDir,
  });
  const peft = getPeftModel(clsModel, lora, "default", { warn: () => {} });
  stage(`[3/5] LoRA r=${lora.r} alpha=${lora.loraAlpha} all-linear: ${peft.trainableParametersLine()}`);
  const trainArgs: Record<string, unknown> = {
    num_train_epochs: num(opts, "num_train_epochs", D.num_train_epochs),
    per_device_train_batch_size: num(opts, "per_device_train_batch_size", D.per_device_train_batch_size),
    learning_rate: num(opts, "learning_rate", D.learning_rate),
    weight_decay: D.weight_decay,
    warmup_ratio: D.warmup_ratio,
    lr_scheduler_type: D.lr_scheduler_type,
    max_grad_norm: D.max_grad_norm,
    // per-epoch dev accuracy goes into the log history, so report.html shows its curve
    eval_strategy: "epoch",
    save_strategy: "no",
    logging_steps: 10,
  };
  if (isExplicit(opts, "max_steps") && opts.max_steps !== undefined) trainArgs.max_steps = opts.max_steps;
  t = Date.now();
  const trainer = new Trainer({ model: peft, args: argsFor(out, trainArgs), trainDataset: trainDs, evalDataset: devDs, dataCollator: collator, computeMetrics });
  const trainOut = await trainer.train();
  const adapterDir = join(out, "adapter");
  await peft.savePretrained(adapterDir);
  stage(`      trained in ${seconds(t)}; adapter saved to ${adapterDir}`);

  // ---------------------------------------------------------------- 4. fine-tuned vs baseline
  stage(`[4/5] evaluating the fine-tuned model on ${devDs.length} dev rows`);
  t = Date.now();
  const tuned = (await trainer.evaluate()) as Record<string, number>;
  const metrics: Record<string, unknown> = {
    ...(trainOut?.metrics ?? {}),
    ...tuned,
    baseline_eval_accuracy: baseline.eval_accuracy,
    baseline_eval_loss: baseline.eval_loss,
  };
  writeMetrics(out, metrics);
  // the report's summary card shows the task and baseline → after (metrics.json keeps HF's keys plus baseline_*)
  finishRunReport(out, { task: "seq-cls (SST-2 sentiment)", baseline: { eval_accuracy: baseline.eval_accuracy, eval_loss: baseline.eval_loss, eval_rows: devDs.length } });
  const pct = (x: number) => formatPercent(x, 3);
  process.stdout.write(
    `\n  SST-2 dev accuracy (${devDs.length} rows)\n` +
    `    baseline (untrained head)   ${pct(baseline.eval_accuracy)}\n` +
    `    LoRA fine-tuned             ${pct(tuned.eval_accuracy)}   (${(100 * (tuned.eval_accuracy - baseline.eval_accuracy)).toFixed(1)} points)\n` +
    `    HF PEFT + PyTorch, same recipe: 72.6% (models/PRETRAINED.md), 73.9% (bench/reference/hf_sst2_lora.py); this run: ${trainArgs.max_steps !== undefined ? `${trainArgs.max_steps} steps` : `${trainArgs.num_train_epochs} epoch(s)`})\n\n`,
  );
  process.stdout.write(`  run summary (${join(out, "report.html")}):\n${summaryLines(out)}\n\n`);
  stage(`      metrics.json, report.html and adapter/ in ${out} (${seconds(t)})`);

  // ---------------------------------------------------------------- 5. instruction tuning + generation
  if (opts.skip_lm === true) {
    stage(`done in ${seconds(T0)} (part 5 skipped)`);
    return 0;
  }
  stage(`[5/5] instruction tuning: llama-mini-en as a causal LM with LoRA`);
  const lmFile = bundled("data/lm/alpaca_libre_tasks_v1.jsonl", "lm/alpaca_libre_tasks_v1.jsonl");
  const lmRows = await readRows(lmFile, { filter: "status==ok" }, num(opts, "lm_rows", D.lm_rows));
  const lmDs = preprocessInstructions(lmRows, tokenizer, { maxLength: D.lm_max_length });
  manualSeed(seed);
  const lm = await AutoModelForCausalLM.fromPretrained(modelDir, { log: () => {} });
  const genOpts = { maxNewTokens: D.lm_max_new_tokens, repetitionPenalty: 1.2 };
  stage(`      ${lmDs.length} instruction rows from ${lmFile} (status==ok); answers before training:`);
  const before = DEMO_PROMPTS.map((p) => new TextGenerator(lm, tokenizer, true).reply([{ role: "user", content: p }], genOpts));
  const lmPeft = getPeftModel(lm, new LoraConfig({ taskType: "CAUSAL_LM", r: 8, loraAlpha: 16, targetModules: "all-linear", baseModelNameOrPath: modelDir }), "default", { warn: () => {} });
  stage(`      ${lmPeft.trainableParametersLine()}`);
  const lmArgs: Record<string, unknown> = {
    num_train_epochs: num(opts, "lm_epochs", D.lm_epochs),
    per_device_train_batch_size: D.lm_batch_size,
    learning_rate: D.lm_learning_rate,
    weight_decay: D.weight_decay,
    warmup_ratio: D.warmup_ratio,
    max_grad_norm: D.max_grad_norm,
    eval_strategy: "no",
    save_strategy: "no",
    logging_steps: 10,
    // the bundled instruction rows and the demo prompts are public: the chat run's report may show the generations
    log_examples: true,
  };
  if (isExplicit(opts, "lm_max_steps") && opts.lm_max_steps !== undefined) lmArgs.max_steps = opts.lm_max_steps;
  t = Date.now();
  const lmTrainer = new Trainer({ model: lmPeft, args: argsFor(join(out, "chat"), lmArgs), trainDataset: lmDs, dataCollator: new DataCollatorForCausalLM(tokenizer) });
  const lmOut = await lmTrainer.train();
  const chatDir = join(out, "chat-adapter");
  await lmPeft.savePretrained(chatDir);
  stage(`      trained in ${seconds(t)}; adapter saved to ${chatDir}`);
  lmPeft.eval();
  const gen = new TextGenerator(lmPeft, tokenizer, true);
  const after = DEMO_PROMPTS.map((p) => gen.reply([{ role: "user", content: p }], genOpts));
  const lines: string[] = ["", "  Answers before → after instruction tuning (greedy, repetition_penalty 1.2):", ""];
  DEMO_PROMPTS.forEach((p, i) => {
    lines.push(`  ### ${p}`);
    lines.push(`    before: ${before[i] || "(empty)"}`);
    lines.push(`    after:  ${after[i] || "(empty)"}`);
    lines.push("");
  });
  process.stdout.write(lines.join("\n") + "\n");
  const generations = JSON.stringify(DEMO_PROMPTS.map((p, i) => ({ prompt: p, before: before[i], after: after[i] })), null, 2) + "\n";
  atomicWriteFile(join(out, "generations.json"), generations);
  atomicWriteFile(join(out, "chat", "generations.json"), generations);
  finishRunReport(join(out, "chat"), { task: "causal-lm (instruction tuning)" });
  const lmLoss = (lmOut?.metrics as Record<string, number> | undefined)?.train_loss;
  writeMetrics(out, { ...(lmLoss !== undefined ? { chat_train_loss: lmLoss } : {}) });
  finishRunReport(out);
  stage(`done in ${seconds(T0)}: ${out}/{metrics.json, report.html, adapter/, chat-adapter/, generations.json}`);
  process.stdout.write(`\nTry it: peft-ts generate -m ${modelDir} --adapter ${chatDir} --chat\n`);
  return 0;
}
