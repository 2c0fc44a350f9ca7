// llama2.c checkpoints and tokenizers (https://github.com/karpathy/llama2.c, "version 0" format).
// The parts: llama2c_checkpoint.ts (header, weight layout, RoPE row permutation, reading),
// llama2c_tokenizer.ts (tokenizer.bin and its BPE) and llama2c_convert.ts (HF config and folder).

export { loadLlama2c, permuteRope, readLlama2c, readLlama2cHeader } from "./llama2c_checkpoint.js";
export type { Llama2cCheckpoint, Llama2cConfig } from "./llama2c_checkpoint.js";
export { Llama2cTokenizer } from "./llama2c_tokenizer.js";
export { convertLlama2c, hfConfigFromLlama2c } from "./llama2c_convert.js";
