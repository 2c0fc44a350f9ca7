// peft-ts convert <checkpoint.bin> <output_dir> [--tokenizer tok.bin]: llama2.c → HF folder.
import { existsSync, statSync } from "node:fs";
import { CliError } from "../errors.js";
import type { Opts } from "../resolve.js";
import { stage } from "../pipeline.js";

export async function run(opts: Opts, args: string[]): Promise<number> {
  const [bin, out] = args;
  if (!existsSync(bin)) throw new CliError(`checkpoint not found: ${bin}`);
  if (statSync(bin).isDirectory()) throw new CliError(`${bin} is a folder; expected a llama2.c .bin checkpoint file`);
  const tok = opts.tokenizer ? String(opts.tokenizer) : undefined;
  if (tok && !existsSync(tok)) throw new CliError(`--tokenizer: file not found: ${tok}`);
  if (existsSync(out) && statSync(out).isFile()) throw new CliError(`output ${out} is a file; expected a folder`);
  const { convertLlama2c, readLlama2cHeader } = await import("../../io/llama2c.js");
  const { config } = readLlama2cHeader(bin);
  stage(`converting ${bin} (dim ${config.dim}, ${config.nLayers} layers, vocab ${config.vocabSize}) → ${out}`);
  const dir = await convertLlama2c(bin, out, tok);
  stage(`wrote ${dir}: config.json, model.safetensors${tok ? ", tokenizer.json, tokenizer_config.json" : ""}`);
  return 0;
}
