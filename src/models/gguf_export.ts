// A Llama-family model (merged, full precision) as a llama.cpp GGUF: llama.* metadata, blk.N.* names,
// Q/K rows permuted to llama.cpp's interleaved RoPE layout (convert_hf_to_gguf.py's `permute`), 1-D
// tensors in F32, 2-D weights in the chosen type. q4_0 keeps token_embd/output in Q8_0 (llama-quantize
// keeps the output layer at higher precision as well); a weight whose rows are not a multiple of the
// block size falls back to F16, as the converter does.

import { ConfigError } from "../tensor/errors.js";
import type { LlamaConfig } from "../io/hf_config.js";
import { hfToGgufName, ropeHalfToInterleaved } from "../io/gguf_llama.js";
import { gguf, writeGguf, type GgufWriteTensor } from "../io/gguf_writer.js";
import { ggmlTypeName, type GgufValue } from "../io/gguf_types.js";
import { ggufTokenizerMetadata } from "../io/gguf_tokenizer_export.js";
import type { PreTrainedTokenizer } from "../io/tokenizer.js";
import { GGML_CODECS, type GgmlCodec } from "../quant/ggml_blocks.js";
import type { PreTrainedModel } from "./modeling_utils.js";

export const GGUF_OUTTYPES = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1"] as const;
export type GgufOuttype = (typeof GGUF_OUTTYPES)[number];

/** general.file_type (llama_ftype) of each output type ("mostly …"). */
const FILE_TYPE: Record<GgufOuttype, number> = { f32: 0, f16: 1, q4_0: 2, q4_1: 3, q8_0: 7, bf16: 32 };

export interface GgufExportOptions {
  outtype: GgufOuttype;
  /** Written as tokenizer.ggml.* (llama.cpp needs it to run the model). */
  tokenizer?: PreTrainedTokenizer | null;
  name?: string;
}

/** Checks that the model is one llama.cpp's "llama" architecture runs; returns its config. */
export function llamaConfigForGguf(model: PreTrainedModel, what: string): LlamaConfig {
  const c = model.config as LlamaConfig;
  if (c.modelType !== "llama" && c.modelType !== "mistral") {
    throw new ConfigError(`${what}: GGUF export supports Llama-family models (model_type llama, mistral); got '${c.modelType}'`);
  }
  if (c.attentionBias || c.qkvBias || c.oBias || c.mlpBias) throw new ConfigError(`${what}: GGUF export: attention/MLP biases are not part of llama.cpp's llama architecture`);
  if (c.ropeScaling && c.ropeScaling.ropeType !== "default") throw new ConfigError(`${what}: GGUF export: rope scaling '${c.ropeScaling.ropeType}' is not written; only default RoPE`);
  return c;
}

function llamaMetadata(c: LlamaConfig, name: string, outtype: GgufOuttype): [string, GgufValue][] {
  const meta: [string, GgufValue][] = [
    ["general.architecture", gguf.str("llama")],
    ["general.type", gguf.str("model")],
    ["general.name", gguf.str(name)],
    ["llama.context_length", gguf.u32(c.maxPositionEmbeddings)],
    ["llama.embedding_length", gguf.u32(c.hiddenSize)],
    ["llama.block_count", gguf.u32(c.numHiddenLayers)],
    ["llama.feed_forward_length", gguf.u32(c.intermediateSize)],
    ["llama.rope.dimension_count", gguf.u32(c.headDim)],
    ["llama.attention.head_count", gguf.u32(c.numAttentionHeads)],
    ["llama.attention.head_count_kv", gguf.u32(c.numKeyValueHeads)],
    ["llama.attention.layer_norm_rms_epsilon", gguf.f32(c.rmsNormEps)],
    ["llama.rope.freq_base", gguf.f32(c.ropeTheta)],
    ["llama.vocab_size", gguf.u32(c.vocabSize)],
    ["general.file_type", gguf.u32(FILE_TYPE[outtype])],
  ];
  if (c.headDim * c.numAttentionHeads !== c.hiddenSize) {
    meta.push(["llama.attention.key_length", gguf.u32(c.headDim)], ["llama.attention.value_length", gguf.u32(c.headDim)]);
  }
  if (outtype.startsWith("q")) meta.push(["general.quantization_version", gguf.u32(2)]);
  return meta;
}

function codecFor(outtype: GgufOuttype, ggufName: string, cols: number): GgmlCodec {
  let key = outtype.toUpperCase();
  if (outtype === "q4_0" || outtype === "q4_1") if (ggufName === "output.weight" || ggufName === "token_embd.weight") key = "Q8_0";
  const codec = GGML_CODECS[key];
  return cols % codec.blockSize === 0 ? codec : GGML_CODECS.F16;
}

/** The GGUF tensors of a Llama model's state dict (tied lm_head left out: llama.cpp reuses token_embd). */
export function llamaGgufTensors(model: PreTrainedModel, outtype: GgufOuttype): GgufWriteTensor[] {
  const c = llamaConfigForGguf(model, "model");
  const tied = new Set(Object.keys(model.tiedWeights()));
  const out: GgufWriteTensor[] = [];
  for (const [hf, t] of model.stateDict()) {
    if (tied.has(hf)) continue;
    const name = hfToGgufName(hf);
    if (!name) throw new ConfigError(`GGUF export: parameter '${hf}' has no llama.cpp tensor name`);
    let w = t.f32();
    const [rows, cols] = t.shape.length === 2 ? t.shape : [1, t.shape[0]];
    if (name.endsWith("attn_q.weight")) w = ropeHalfToInterleaved(w, c.numAttentionHeads, rows, cols);
    if (name.endsWith("attn_k.weight")) w = ropeHalfToInterleaved(w, c.numKeyValueHeads, rows, cols);
    const codec = t.shape.length === 1 ? GGML_CODECS.F32 : codecFor(outtype, name, cols);
    out.push({ name, shape: [...t.shape], type: codec.type, data: codec.quantizeRows(w, rows, cols) });
  }
  return out;
}

/** Writes `model` (already merged) as a llama.cpp GGUF file. */
export function exportLlamaGguf(model: PreTrainedModel, path: string, opts: GgufExportOptions): { tensors: number; byType: Record<string, number> } {
  const c = llamaConfigForGguf(model, path);
  if (!(GGUF_OUTTYPES as readonly string[]).includes(opts.outtype)) throw new ConfigError(`--outtype ${opts.outtype}: expected one of ${GGUF_OUTTYPES.join(", ")}`);
  const meta = llamaMetadata(c, opts.name ?? "peft-ts export", opts.outtype);
  if (opts.tokenizer) meta.push(...ggufTokenizerMetadata(opts.tokenizer, c.vocabSize));
  const tensors = llamaGgufTensors(model, opts.outtype);
  writeGguf(path, { metadata: meta, tensors });
  const byType: Record<string, number> = {};
  for (const t of tensors) byType[ggmlTypeName(t.type)] = (byType[ggmlTypeName(t.type)] ?? 0) + 1;
  return { tensors: tensors.length, byType };
}

