// A Llama-family GGUF file as LlamaForCausalLM (transformers' from_pretrained(dir, gguf_file=…)):
// config from llama.* metadata, llama.cpp names → HF names, Q/K rows back to HF's RoPE layout, every
// tensor decoded to f32, then the block-quantised Linear weights (Q8_0, Q4_0, Q4_1, Q4_K, Q6_K) put back
// into QuantLinear layers holding the file's own blocks (dequant-in-GEMM; `ggufDequantize` keeps them
// f32). Quantised tensors' raw blocks are also listed in `ggmlQuantized` (by HF name).

import { Tensor } from "../tensor/tensor.js";
import { FormatError } from "../tensor/errors.js";
import { join } from "../platform/paths.js";
import { getFiles } from "../platform/files.js";
import { GgufFile } from "../io/gguf_reader.js";
import { ggufToHfName, hfConfigFromGguf, permuteRopeRows, ropeInterleavedToHalf } from "../io/gguf_llama.js";
import { ggmlTypeName, type GgufTensorInfo } from "../io/gguf_types.js";
import { parseConfig } from "../io/hf_config.js";
import { dequantizeGgml, ggmlCodecForType } from "../quant/ggml_blocks.js";
import { ggmlQuantMatrix, isGgmlQuantFormat } from "../quant/ggml_formats.js";
import { Linear } from "../nn/layers.js";
import { QuantLinear } from "../nn/quant_linear.js";
import { LlamaForCausalLM } from "./llama.js";
import { defaultSkipModules } from "./quantize.js";
import type { LoadOptions } from "./modeling_utils.js";

/** A tensor as the GGUF file stores it (block-quantised types only; F32/F16/BF16 are not kept). */
export interface GgmlQuantizedTensor {
  /** ggml type number and name ("Q8_0"). */
  type: number;
  typeName: string;
  /** HF shape [out, in] (rows of `in` elements). */
  shape: number[];
  /** The blocks, in HF row order (Q/K rows already un-permuted). */
  bytes: Uint8Array;
}

export type GgufCausalLM = LlamaForCausalLM & { ggmlQuantized: Map<string, GgmlQuantizedTensor> };

const FLOAT_TYPES = new Set([0, 1, 30]);

function decodeTensor(file: GgufFile, t: GgufTensorInfo, raw: Uint8Array): Float32Array {
  const codec = ggmlCodecForType(t.type);
  if (!codec) {
    throw new FormatError(`${file.path}: tensor '${t.name}' has ggml type ${ggmlTypeName(t.type)}, which is not supported; supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K`);
  }
  const cols = t.shape.length ? t.shape[t.shape.length - 1] : 1;
  return dequantizeGgml(codec, raw, t.byteLength / codec.rowBytes(cols), cols);
}

/** Loads `path` (a .gguf file) as LlamaForCausalLM with f32 weights and the raw quantised blocks. */
export function loadGgufCausalLM(path: string, opts: LoadOptions = {}): GgufCausalLM {
  const file = new GgufFile(path);
  try {
    const hasOutput = file.tensor("output.weight") !== undefined;
    const raw = hfConfigFromGguf(file.metadata, path, hasOutput);
    const config = parseConfig(raw, path);
    const nHeads = raw.num_attention_heads as number, nKv = raw.num_key_value_heads as number;
    const tensors = new Map<string, Tensor>();
    const quantized = new Map<string, GgmlQuantizedTensor>();
    for (const t of file.tensors) {
      const hf = ggufToHfName(t.name);
      if (hf === null) {
        if (t.name === "rope_freqs.weight") continue; // llama3 rope scaling factors: recomputed from the config
        throw new FormatError(`${path}: tensor '${t.name}' has no Llama parameter to load into`);
      }
      const raw = file.rawBytes(t);
      let data = decodeTensor(file, t, raw);
      const heads = hf.endsWith("q_proj.weight") ? nHeads : hf.endsWith("k_proj.weight") ? nKv : 0;
      const [rows, cols] = t.shape.length === 2 ? t.shape : [1, t.shape[0]];
      if (heads) data = ropeInterleavedToHalf(data, heads, rows, cols);
      const tensor = new Tensor(data, t.shape, "f32");
      tensor.name = hf;
      tensors.set(hf, tensor);
      if (!FLOAT_TYPES.has(t.type)) {
        let bytes = raw;
        if (heads) bytes = permuteRopeRows(bytes, heads, rows, bytes.length / rows, false);
        quantized.set(hf, { type: t.type, typeName: ggmlTypeName(t.type), shape: t.shape, bytes });
      }
    }
    const model = new LlamaForCausalLM(config) as GgufCausalLM;
    model.loadWeights(tensors, path, opts);
    model.ggmlQuantized = quantized;
    if (!opts.ggufDequantize) keepQuantized(model, quantized);
    model.eval();
    return model;
  } finally {
    file.close();
  }
}

/** The .gguf path for fromPretrained(dirOrFile, { ggufFile }): `dir/ggufFile`, or ggufFile itself when dir is that file. */
export function resolveGgufPath(dir: string, ggufFile: string): string {
  const p = join(dir, ggufFile);
  if (getFiles().exists(p)) return p;
  if (getFiles().exists(ggufFile)) return ggufFile;
  throw new FormatError(`${p}: GGUF file not found (fromPretrained ggufFile '${ggufFile}' in '${dir}')`);
}

/** Replaces the Linear layers whose GGUF weights were block-quantised by QuantLinear over those blocks (the head and tied modules stay f32). */
function keepQuantized(model: GgufCausalLM, quantized: Map<string, GgmlQuantizedTensor>): void {
  const skip = new Set(defaultSkipModules(model));
  for (const [name, q] of quantized) {
    if (!name.endsWith(".weight") || !isGgmlQuantFormat(q.typeName) || q.shape.length !== 2) continue;
    const path = name.slice(0, -".weight".length);
    if (skip.has(path)) continue;
    const m = model.getSubmodule(path);
    if (!(m instanceof Linear)) continue;
    const [rows, cols] = q.shape;
    const bias = m.bias ? m.bias.detach() : null;
    const ql = new QuantLinear(ggmlQuantMatrix(q.typeName, rows, cols, q.bytes), bias);
    if (bias) bias.name = `${path}.bias`;
    model.setSubmodule(path, ql);
    m.registerParameter("weight", null);
  }
}
