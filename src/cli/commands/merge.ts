// peft-ts merge: base model + adapter → one plain model folder (weights merged, adapter gone),
// with the tokenizer and generation config copied so the folder is usable on its own.
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "../errors.js";
import type { Opts } from "../resolve.js";
import { loadModelWithAdapter, stage } from "../pipeline.js";
import { PeftModel } from "../../peft/index.js";

const SIDE_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "merges.txt", "vocab.json", "generation_config.json"];

export async function run(opts: Opts): Promise<number> {
  if (!opts.adapter) throw new CliError("--adapter is required (the adapter folder to merge)");
  if (!opts.output_dir) throw new CliError("--output_dir is required (where the merged model goes)");
  const out = String(opts.output_dir);
  const { dir, task, model } = await loadModelWithAdapter(opts);
  if (!(model instanceof PeftModel)) throw new CliError(`--adapter ${opts.adapter} did not load as an adapter`);
  if (model.isPromptLearning) throw new CliError(`${model.activeConfig.peftType} adapters add virtual tokens and cannot be merged into the weights; use the adapter with --adapter instead`);
  stage(`merging ${opts.adapter} (${model.activeConfig.peftType}) into ${dir} (${task.name})`);
  const merged = model.mergeAndUnload();
  // a quantised base (--load_in_4bit / --load_in_8bit): the merged model is full precision; say what
  // re-quantising it would cost, per module (merges into quantised bases otherwise degrade silently)
  const report = model.quantMergeReport;
  if (report.length) {
    stage(`base was quantised (${report[0].format}): merged in f32 from the dequantised base; re-quantisation error per module:`);
    for (const e of report) stage(`  ${e.module}: max abs ${e.maxAbsError.toExponential(3)}, relative Frobenius ${e.relFrobeniusError.toExponential(3)}`);
    const worst = report.reduce((a, e) => (e.relFrobeniusError > a.relFrobeniusError ? e : a));
    stage(`worst: ${worst.module} (relative Frobenius ${worst.relFrobeniusError.toExponential(3)}); written in full precision`);
  }
  mkdirSync(out, { recursive: true });
  await merged.savePretrained(out);
  for (const f of SIDE_FILES) if (existsSync(join(dir, f)) && !existsSync(join(out, f))) copyFileSync(join(dir, f), join(out, f));
  stage(`wrote ${out}: config.json, model.safetensors${SIDE_FILES.some((f) => existsSync(join(dir, f))) ? " + tokenizer files" : ""}`);
  return 0;
}
