// peft-ts predict: predictions for --test_file (default --validation_file) written as
// predictions.jsonl in --output_dir: one JSON object per input row.

import { join } from "node:path";
import { mkdirSync } from "node:fs";
import type { Opts } from "../resolve.js";
import { TRAINING_OPTS } from "../options.js";
import { trainingOptionSpecs } from "../training_fields.js";
import { loadModelWithAdapter, loadTokenizer, prepareData, stage } from "../pipeline.js";
import { collatorFn, makeTrainingArguments, trainModule, trainingDict } from "../trainer_api.js";
import { evalOutputDir } from "./eval.js";
import { atomicWriteFile } from "../../io/fs.js";
import { CliError } from "../errors.js";

export async function run(opts: Opts): Promise<number> {
  const outputDir = evalOutputDir(opts);
  const { dir, task, model } = await loadModelWithAdapter(opts);
  if (task === "causal-lm") throw new CliError("predict is for classification and QA tasks; use 'peft-ts generate' for causal LMs");
  const tokenizer = await loadTokenizer(opts, dir);
  const evalFile = opts.test_file ? "test_file" : "validation_file";
  const data = await prepareData(task, tokenizer, opts, { train: false, eval: true, evalFile, modelDir: dir });
  const specs = await trainingOptionSpecs().catch(() => TRAINING_OPTS);
  const args = await makeTrainingArguments(trainingDict(opts, specs, { output_dir: outputDir, do_train: false, do_predict: true }));
  const { Trainer } = await trainModule();
  const trainer = new Trainer({ model, args, dataCollator: collatorFn(data.collator), computeMetrics: data.computeMetrics, processingClass: tokenizer });
  stage(`predicting ${data.evalRows!.length} rows${data.evalDataset!.length !== data.evalRows!.length ? ` (${data.evalDataset!.length} windows)` : ""} (${task})`);
  const out = await trainer.predict(data.evalDataset);
  const rows = data.decode ? data.decode(out.predictions) : [];
  const src = data.evalRows!.toArray();
  const lines = task === "seq-cls"
    ? rows.map((r, i) => JSON.stringify({ ...src[i], prediction: r.label }))
    : rows.map((r) => JSON.stringify(r));
  mkdirSync(outputDir, { recursive: true });
  const path = join(outputDir, "predictions.jsonl");
  atomicWriteFile(path, lines.join("\n") + "\n");
  stage(`wrote ${lines.length} predictions to ${path}`);
  if (out.metrics) process.stdout.write(Object.entries(out.metrics).map(([k, v]) => `  ${k}  ${v}`).join("\n") + "\n");
  return 0;
}
