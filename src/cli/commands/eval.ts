// peft-ts eval: evaluate a model (with --adapter, optionally) on --validation_file through the
// Trainer's evaluate(); metrics.json (eval_loss, eval_accuracy, …) goes to --output_dir
// (default: the adapter folder).

import { CliError } from "../errors.js";
import type { Opts } from "../resolve.js";
import { TRAINING_OPTS } from "../options.js";
import { trainingOptionSpecs } from "../training_fields.js";
import { loadModelWithAdapter, loadTokenizer, prepareData, stage } from "../pipeline.js";
import { evaluateTask, collatorFn, makeTrainingArguments, metricLines, trainModule, trainingDict, writeMetrics } from "../trainer_api.js";
import { join } from "node:path";

export function evalOutputDir(opts: Opts): string {
  if (opts.output_dir) return String(opts.output_dir);
  if (opts.adapter) return String(opts.adapter);
  throw new CliError("--output_dir is required (where metrics.json goes)");
}

export async function run(opts: Opts): Promise<number> {
  const outputDir = evalOutputDir(opts);
  const { dir, task, model } = await loadModelWithAdapter(opts);
  const tokenizer = await loadTokenizer(opts, dir);
  const data = await prepareData(task, tokenizer, opts, { train: false, eval: true, modelDir: dir });
  const specs = await trainingOptionSpecs().catch(() => TRAINING_OPTS);
  const args = await makeTrainingArguments(trainingDict(opts, specs, { output_dir: outputDir, do_train: false, do_eval: true }));
  const { Trainer } = await trainModule();
  const trainer = new Trainer({ model, args, evalDataset: data.evalDataset, dataCollator: collatorFn(data.collator), computeMetrics: data.computeMetrics, processingClass: tokenizer });
  stage(`evaluating ${dir}${opts.adapter ? ` + ${opts.adapter}` : ""} on ${data.evalDataset!.length} examples (${task})`);
  const metrics = await evaluateTask(trainer, data);
  writeMetrics(outputDir, metrics);
  process.stdout.write(`metrics (${join(outputDir, "metrics.json")}):\n${metricLines(metrics)}\n`);
  return 0;
}
