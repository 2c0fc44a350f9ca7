// peft-ts predict: predictions for --test_file (default --validation_file) written as
// predictions.jsonl in --output_dir: one JSON object per input row.

import { join } from "node:path";
import { mkdirSync } from "node:fs";
import type { Opts } from "../resolve.js";
import { loadModelWithAdapter, loadTokenizer, modelDir, prepareData, resolveTask, stage } from "../pipeline.js";
import { taskTrainer, trainingArguments } from "../trainer_api.js";
import { evalOutputDir } from "./eval.js";
import { atomicWriteFile } from "../../io/fs.js";
import { CliError } from "../errors.js";

export async function run(opts: Opts): Promise<number> {
  const outputDir = evalOutputDir(opts);
  // the rows first: a data mistake is reported before any model is loaded
  const dir = modelDir(opts);
  const task = resolveTask(opts, dir);
  if (task.instructionRows) throw new CliError(`predict is for classification and QA tasks; use 'peft-ts generate' for ${task.name} models`);
  const tokenizer = await loadTokenizer(opts, dir);
  const evalFile = opts.test_file ? "test_file" : "validation_file";
  const data = await prepareData(task, tokenizer, opts, { train: false, eval: true, evalFile, modelDir: dir, predict: true });
  const { model } = await loadModelWithAdapter(opts);
  // an encoder-decoder's predictions are generated texts (Seq2SeqTrainer's predict_with_generate)
  const args = trainingArguments(opts, { outputDir, doTrain: false, doPredict: true, ...(task.taskType === "SEQ_2_SEQ_LM" ? { predictWithGenerate: true } : {}) });
  const trainer = taskTrainer(model, args, data, { eval: false });
  stage(`predicting ${data.evalRows!.length} rows${data.evalDataset!.length !== data.evalRows!.length ? ` (${data.evalDataset!.length} windows)` : ""} (${task.name})`);
  const out = await trainer.predict(data.evalDataset!);
  const rows = data.decode ? data.decode(out.predictions) : [];
  const lines = rows.map((r) => JSON.stringify(r));
  mkdirSync(outputDir, { recursive: true });
  const path = join(outputDir, "predictions.jsonl");
  atomicWriteFile(path, lines.join("\n") + "\n");
  stage(`wrote ${lines.length} predictions to ${path}`);
  if (out.metrics) process.stdout.write(Object.entries(out.metrics).map(([k, v]) => `  ${k}  ${v}`).join("\n") + "\n");
  return 0;
}
