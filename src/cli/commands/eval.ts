// peft-ts eval: evaluate a model (with --adapter, optionally) on --validation_file through the
// Trainer's evaluate(); metrics.json (eval_loss, eval_accuracy, …) goes to --output_dir
// (default: the adapter folder).

import { CliError } from "../errors.js";
import type { Opts } from "../resolve.js";
import { loadModelWithAdapter, loadTokenizer, modelDir, prepareData, resolveTask, stage } from "../pipeline.js";
import { evaluateTask, metricLines, taskTrainer, trainingArguments, writeMetrics } from "../trainer_api.js";
import { join } from "node:path";

export function evalOutputDir(opts: Opts): string {
  if (opts.output_dir) return String(opts.output_dir);
  if (opts.adapter) return String(opts.adapter);
  throw new CliError("--output_dir is required (where metrics.json goes)");
}

export async function run(opts: Opts): Promise<number> {
  const outputDir = evalOutputDir(opts);
  // the rows first: a data mistake is reported before any model is loaded
  const dir = modelDir(opts);
  const task = resolveTask(opts, dir);
  const tokenizer = await loadTokenizer(opts, dir);
  const data = await prepareData(task, tokenizer, opts, { train: false, eval: true, modelDir: dir });
  const { model } = await loadModelWithAdapter(opts);
  const args = trainingArguments(opts, { outputDir, doTrain: false, doEval: true });
  const trainer = taskTrainer(model, args, data);
  stage(`evaluating ${dir}${opts.adapter ? ` + ${opts.adapter}` : ""} on ${data.evalDataset!.length} examples (${task.name})`);
  const metrics = await evaluateTask(trainer, data);
  writeMetrics(outputDir, metrics);
  process.stdout.write(`metrics (${join(outputDir, "metrics.json")}):\n${metricLines(metrics)}\n`);
  return 0;
}
