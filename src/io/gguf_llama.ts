// Llama-family GGUF ↔ Hugging Face: the config from llama.* metadata, llama.cpp tensor names ↔ HF
// parameter names, and the Q/K row order. llama.cpp's convert_hf_to_gguf.py permutes q_proj/k_proj
// rows per head from HF's rotate-half RoPE layout to interleaved pairs (reshape(n_head, 2, hd/2, cols)
// .swapaxes(1, 2), with n_head = n_head_kv for k_proj); reading undoes it with permuteRope.

import { ConfigError, FormatError } from "../tensor/errors.js";
import { ggufPlain } from "./gguf_reader.js";
import type { GgufValue } from "./gguf_types.js";

/** Architectures whose GGUF tensors and keys follow llama's (general.architecture). */
export const GGUF_LLAMA_ARCHS: Readonly<Record<string, string>> = { llama: "llama", mistral: "mistral" };

const LAYER_NAMES: [string, string][] = [
  ["attn_norm", "input_layernorm"],
  ["attn_q", "self_attn.q_proj"],
  ["attn_k", "self_attn.k_proj"],
  ["attn_v", "self_attn.v_proj"],
  ["attn_output", "self_attn.o_proj"],
  ["ffn_norm", "post_attention_layernorm"],
  ["ffn_gate", "mlp.gate_proj"],
  ["ffn_up", "mlp.up_proj"],
  ["ffn_down", "mlp.down_proj"],
];
const TO_HF = new Map(LAYER_NAMES);
const TO_GGUF = new Map(LAYER_NAMES.map(([g, h]) => [h, g]));
const GLOBAL: [string, string][] = [["token_embd.weight", "model.embed_tokens.weight"], ["output_norm.weight", "model.norm.weight"], ["output.weight", "lm_head.weight"]];

/** The HF parameter name of a llama.cpp tensor name, or null when it has none (e.g. rope_freqs). */
export function ggufToHfName(name: string): string | null {
  for (const [g, h] of GLOBAL) if (name === g) return h;
  const m = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(name);
  const hf = m && TO_HF.get(m[2]);
  return hf ? `model.layers.${m![1]}.${hf}.${m![3]}` : null;
}

/** The llama.cpp tensor name of an HF Llama parameter name, or null. */
export function hfToGgufName(name: string): string | null {
  for (const [g, h] of GLOBAL) if (name === h) return g;
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  const g = m && TO_GGUF.get(m[2]);
  return g ? `blk.${m![1]}.${g}.${m![3]}` : null;
}

/**
 * Moves whole rows between HF's rotate-half order and llama.cpp's interleaved pairs, per head:
 * GGUF row h·hd + 2i + j ⇄ HF row h·hd + j·hd/2 + i. `toGguf` true is the converter's `permute`.
 * Works on floats (rowLen = columns) and on raw ggml bytes (rowLen = bytes per row; blocks never cross rows).
 */
export function permuteRopeRows<T extends Float32Array | Uint8Array>(w: T, nHeads: number, rows: number, rowLen: number, toGguf: boolean): T {
  const hd = rows / nHeads, half = hd / 2;
  const out = new (w.constructor as new (n: number) => T)(w.length);
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const hf = (h * hd + j * half + i) * rowLen, gg = (h * hd + i * 2 + j) * rowLen;
        const [src, dst] = toGguf ? [hf, gg] : [gg, hf];
        out.set(w.subarray(src, src + rowLen), dst);
      }
    }
  }
  return out;
}

/** HF rotate-half rows → llama.cpp's interleaved pairs (the converter's `permute`), per head. */
export function ropeHalfToInterleaved(w: Float32Array, nHeads: number, rows: number, cols: number): Float32Array {
  return permuteRopeRows(w, nHeads, rows, cols, true);
}

/** llama.cpp's interleaved pairs → HF rotate-half rows (undoes the converter's `permute`). */
export function ropeInterleavedToHalf(w: Float32Array, nHeads: number, rows: number, cols: number): Float32Array {
  return permuteRopeRows(w, nHeads, rows, cols, false);
}

/** A plain HF config.json object from a Llama-family GGUF's metadata. */
export function hfConfigFromGguf(meta: Map<string, GgufValue>, file: string, hasOutput: boolean): Record<string, unknown> {
  const arch = ggufPlain(meta.get("general.architecture"));
  if (typeof arch !== "string" || !(arch in GGUF_LLAMA_ARCHS)) {
    throw new ConfigError(`${file}: GGUF architecture '${String(arch)}' is not supported; expected one of ${Object.keys(GGUF_LLAMA_ARCHS).join(", ")} (Llama family)`);
  }
  const num = (key: string, fallback?: number): number => {
    const v = ggufPlain(meta.get(`${arch}.${key}`));
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== "number") throw new FormatError(`${file}: metadata '${arch}.${key}' is ${v === undefined ? "missing" : JSON.stringify(String(v))}; expected a number`);
    return v;
  };
  const hidden = num("embedding_length"), heads = num("attention.head_count");
  const tokens = ggufPlain(meta.get("tokenizer.ggml.tokens"));
  const vocab = num("vocab_size", Array.isArray(tokens) ? tokens.length : undefined);
  const headDim = num("attention.key_length", num("rope.dimension_count", hidden / heads));
  const theta = num("rope.freq_base", 10000);
  const id = (k: string) => ggufPlain(meta.get(`tokenizer.ggml.${k}`));
  const cfg: Record<string, unknown> = {
    architectures: ["LlamaForCausalLM"],
    model_type: GGUF_LLAMA_ARCHS[arch],
    hidden_size: hidden,
    intermediate_size: num("feed_forward_length"),
    num_hidden_layers: num("block_count"),
    num_attention_heads: heads,
    num_key_value_heads: num("attention.head_count_kv", heads),
    head_dim: headDim,
    vocab_size: vocab,
    max_position_embeddings: num("context_length"),
    hidden_act: "silu",
    rms_norm_eps: num("attention.layer_norm_rms_epsilon"),
    rope_theta: theta,
    rope_parameters: { rope_theta: theta, rope_type: "default" },
    tie_word_embeddings: !hasOutput,
    attention_bias: false,
    mlp_bias: false,
    initializer_range: 0.02,
    torch_dtype: "float32",
  };
  if (typeof id("bos_token_id") === "number") cfg.bos_token_id = id("bos_token_id");
  if (typeof id("eos_token_id") === "number") cfg.eos_token_id = id("eos_token_id");
  if (typeof id("padding_token_id") === "number") cfg.pad_token_id = id("padding_token_id");
  return cfg;
}
