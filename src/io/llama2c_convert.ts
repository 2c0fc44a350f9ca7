// llama2.c → Hugging Face: the config.json for a checkpoint and the conversion into an HF model folder.

import { join } from "../platform/paths.js";
import { atomicWriteDir, atomicWriteFile } from "./fs.js";
import { saveSafetensors } from "./safetensors.js";
import { Llama2cConfig, readLlama2c } from "./llama2c_checkpoint.js";
import { Llama2cTokenizer } from "./llama2c_tokenizer.js";

/** A plain HF config.json object for the checkpoint (LlamaForCausalLM). */
export function hfConfigFromLlama2c(cfg: Llama2cConfig): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_size: cfg.dim,
    intermediate_size: cfg.hiddenDim,
    num_hidden_layers: cfg.nLayers,
    num_attention_heads: cfg.nHeads,
    num_key_value_heads: cfg.nKvHeads,
    head_dim: cfg.dim / cfg.nHeads,
    vocab_size: cfg.vocabSize,
    max_position_embeddings: cfg.seqLen,
    hidden_act: "silu",
    rms_norm_eps: 1e-5,
    rope_theta: 10000.0,
    rope_parameters: { rope_theta: 10000.0, rope_type: "default" },
    tie_word_embeddings: cfg.sharedClassifier,
    attention_bias: false,
    mlp_bias: false,
    initializer_range: 0.02,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: "float32",
  };
}

/**
 * Converts a llama2.c checkpoint (and optionally its tokenizer.bin) into an HF model folder:
 * config.json, model.safetensors (+ tokenizer.json, tokenizer_config.json, special_tokens_map.json),
 * built atomically. Returns the output folder.
 */
export async function convertLlama2c(binPath: string, outDir: string, tokenizerBin?: string): Promise<string> {
  const { config, tensors } = readLlama2c(binPath);
  const tok = tokenizerBin ? Llama2cTokenizer.fromFile(tokenizerBin, config.vocabSize) : null;
  return atomicWriteDir(outDir, (tmp) => {
    atomicWriteFile(join(tmp, "config.json"), JSON.stringify(hfConfigFromLlama2c(config), null, 2) + "\n");
    saveSafetensors(join(tmp, "model.safetensors"), tensors, { format: "pt" });
    if (tok) {
      atomicWriteFile(join(tmp, "tokenizer.json"), JSON.stringify(tok.toTokenizerJson()) + "\n");
      const special = { bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>" };
      atomicWriteFile(join(tmp, "tokenizer_config.json"), JSON.stringify({
        tokenizer_class: "LlamaTokenizerFast", ...special, pad_token: null, add_bos_token: true, add_eos_token: false,
        clean_up_tokenization_spaces: false, model_max_length: config.seqLen, legacy: true,
      }, null, 2) + "\n");
      atomicWriteFile(join(tmp, "special_tokens_map.json"), JSON.stringify(special, null, 2) + "\n");
    }
  });
}
