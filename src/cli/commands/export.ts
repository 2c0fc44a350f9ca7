// peft-ts export --format gguf -m DIR [--adapter DIR [--adapter_only]] --outtype q8_0|q4_0|f16|… --output FILE:
// a Llama-family model (adapter merged first) or just the LoRA adapter as a llama.cpp GGUF file.
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "../errors.js";
import type { Opts } from "../resolve.js";
import { loadModelWithAdapter, modelDir, stage } from "../pipeline.js";
import { PeftModel } from "../../peft/index.js";
import { exportLoraAdapterGguf } from "../../peft/gguf_adapter_export.js";
import { exportLlamaGguf, GGUF_OUTTYPES, llamaConfigForGguf, type GgufOuttype } from "../../models/gguf_export.js";
import { loadConfigFile, type LlamaConfig } from "../../io/hf_config.js";
import { PreTrainedTokenizer } from "../../io/tokenizer.js";
import type { PreTrainedModel } from "../../models/modeling_utils.js";

const TOKENIZER_FILES = ["tokenizer.json", "vocab.json", "vocab.txt"];

export async function run(opts: Opts): Promise<number> {
  const format = String(opts.format ?? "gguf");
  if (format !== "gguf") throw new CliError(`--format ${format}: only gguf is supported`);
  if (!opts.output) throw new CliError("--output is required (the .gguf file to write)");
  const out = String(opts.output);
  if (existsSync(out) && statSync(out).isDirectory()) throw new CliError(`--output ${out} is a folder; expected a .gguf file path`);
  const outtype = String(opts.outtype ?? "f16") as GgufOuttype;
  if (!(GGUF_OUTTYPES as readonly string[]).includes(outtype)) throw new CliError(`--outtype ${outtype}: expected one of ${GGUF_OUTTYPES.join(", ")}`);
  const dir = modelDir(opts);
  if (opts.adapter_only) {
    if (!opts.adapter) throw new CliError("--adapter_only needs --adapter (the LoRA adapter folder to write as a llama.cpp adapter)");
    const base = loadConfigFile(dir) as LlamaConfig;
    const adapter = String(opts.adapter);
    if (!existsSync(join(adapter, "adapter_config.json"))) throw new CliError(`--adapter ${adapter}: no adapter_config.json`);
    const { tensors, alpha } = exportLoraAdapterGguf(adapter, base, out, outtype);
    stage(`wrote ${out}: llama.cpp LoRA adapter (${tensors} tensors, adapter.lora.alpha ${alpha}) for ${dir}`);
    return 0;
  }
  const { model } = await loadModelWithAdapter({ ...opts, task: opts.task ?? "causal-lm" });
  let merged: PreTrainedModel;
  if (model instanceof PeftModel) {
    if (model.isPromptLearning) throw new CliError(`${model.activeConfig.peftType} adapters add virtual tokens and cannot be merged; GGUF export needs a mergeable adapter (LoRA, IA3, …)`);
    stage(`merging ${opts.adapter} (${model.activeConfig.peftType}) into ${dir}`);
    merged = model.mergeAndUnload();
  } else merged = model;
  llamaConfigForGguf(merged, dir);
  const tokDir = opts.tokenizer_name ? String(opts.tokenizer_name) : dir;
  const tokenizer = TOKENIZER_FILES.some((f) => existsSync(join(tokDir, f))) ? PreTrainedTokenizer.fromPretrainedSync(tokDir) : null;
  if (!tokenizer) stage(`note: ${tokDir} has no tokenizer files; the GGUF gets no tokenizer.ggml.* metadata (llama.cpp needs one to run it)`);
  const { tensors, byType } = exportLlamaGguf(merged, out, { outtype, tokenizer, name: dir.split(/[\\/]/).filter(Boolean).pop() });
  const types = Object.entries(byType).map(([t, n]) => `${n} ${t}`).join(", ");
  stage(`wrote ${out}: ${tensors} tensors (${types})${tokenizer ? " + tokenizer" : ""}`);
  return 0;
}
