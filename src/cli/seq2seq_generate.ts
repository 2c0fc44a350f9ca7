// peft-ts generate for encoder–decoders (T5, BART, Marian): each prompt (with --source_prefix) is a
// source text for the encoder; the decoder's ids (greedy, sampling or --num_beams beam search) are
// decoded with the target tokenizer and printed one line per prompt.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "./errors.js";
import type { Opts } from "./resolve.js";
import { loadModelWithAdapter, loadTokenizer } from "./pipeline.js";
import type { GenOptions } from "./textgen.js";
import { loadConfigFile } from "../io/hf_config.js";
import { loadPeftConfig } from "../peft/index.js";
import { generate, type CausalLM } from "../models/generate.js";
import { decodeTargets } from "../data/tasks/seq2seq_task.js";
import { translationTask } from "../data/tasks/seq2seq_task.js";

/** Whether --model_name_or_path is an encoder–decoder checkpoint (its config says so). */
export function isSeq2SeqModelDir(dir: string): boolean {
  if (!existsSync(join(dir, "config.json"))) return false;
  return (loadConfigFile(dir) as unknown as { isEncoderDecoder?: boolean }).isEncoderDecoder === true;
}

/** Translates/summarises each prompt; returns the output texts (also written to stdout). */
export async function generateSeq2SeqTexts(opts: Opts, prompts: string[], gen: GenOptions): Promise<string[]> {
  const adapter = opts.adapter ? String(opts.adapter) : undefined;
  if (adapter && existsSync(join(adapter, "adapter_config.json"))) {
    const tt = loadPeftConfig(adapter, () => {}).taskType;
    if (tt && tt !== "SEQ_2_SEQ_LM") throw new CliError(`--adapter ${adapter} is a ${tt} adapter; this model is an encoder-decoder and needs a SEQ_2_SEQ_LM adapter (train it with --task translation or summarization)`);
  }
  const { dir, model } = await loadModelWithAdapter({ ...opts, task: translationTask.name });
  const tokenizer = await loadTokenizer(opts, dir);
  const prefix = opts.source_prefix !== undefined && opts.source_prefix !== null ? String(opts.source_prefix) : "";
  const out: string[] = [];
  for (const p of prompts) {
    const ids = generate(model as unknown as CausalLM, [tokenizer.encode(prefix + p)], gen);
    const [text] = decodeTargets(ids, tokenizer);
    if (prompts.length > 1) process.stdout.write(`>>> ${p}\n`);
    process.stdout.write(`${text}\n`);
    out.push(text);
  }
  return out;
}
