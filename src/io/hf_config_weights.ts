// Sizes of a config.json checked before a model is allocated: every weight matrix the config
// implies must fit a typed array, and, when the folder has weights, the config must agree with
// the shapes in their safetensors headers (read without loading any data). Without this an
// absurd size (intermediate_size 1e308, a vocabulary of 2^40) ends in a RangeError or an
// allocation of many GB long before the weights are compared.

import { getFiles } from "../platform/files.js";
import { hostInfo } from "../platform/env.js";
import { join } from "../platform/paths.js";
import { ConfigError } from "../tensor/errors.js";
import type { BartConfig, BertConfig, GPT2Config, LlamaConfig, PretrainedConfig, T5Config } from "./hf_config_types.js";
import { readSafetensorsHeader } from "./safetensors_header.js";
import { readSafetensorsIndex, SAFETENSORS_INDEX, SAFETENSORS_SINGLE } from "./safetensors_dir.js";

/** Most elements one weight tensor may have (8 GiB of f32; typed arrays stop not far above). */
export const MAX_TENSOR_ELEMENTS = 2 ** 31;

interface Matrix { what: string; rows: number; cols: number; perLayer: boolean }

/** The largest matrices a config implies (one layer's worth for per-layer ones), with the fields they come from. */
function matrices(c: PretrainedConfig): Matrix[] {
  const V = c.vocabSize, H = c.hiddenSize;
  const m = (what: string, rows: number, cols: number, perLayer = false): Matrix => ({ what, rows, cols, perLayer });
  const out = [m("vocab_size × hidden_size (token embeddings)", V, H)];
  if (c.modelType === "gpt2") {
    const g = c as GPT2Config;
    out.push(m("n_positions × n_embd", g.nPositions, H), m("n_embd × 3·n_embd (attention)", H, 3 * H, true), m("n_embd × n_inner (MLP)", H, g.nInner ?? 4 * H, true));
  } else if (c.modelType === "llama" || c.modelType === "mistral" || c.modelType === "qwen2") {
    const l = c as LlamaConfig;
    out.push(
      m("num_attention_heads·head_dim × hidden_size (q_proj)", l.numAttentionHeads * l.headDim, H, true),
      m("num_key_value_heads·head_dim × hidden_size (k_proj)", l.numKeyValueHeads * l.headDim, H, true),
      m("intermediate_size × hidden_size (MLP)", l.intermediateSize, H, true),
    );
  } else if (c.modelType === "t5") {
    const t = c as T5Config;
    out.push(m("num_heads·d_kv × d_model (attention)", t.numAttentionHeads * t.dKv, H, true), m("d_ff × d_model (feed-forward)", t.dFf, H, true));
  } else if (c.modelType === "bart" || c.modelType === "marian") {
    const t = c as BartConfig;
    out.push(m("max_position_embeddings × d_model", t.maxPositionEmbeddings, H), m("d_model × d_model (attention)", H, H, true),
      m("encoder_ffn_dim × d_model (feed-forward)", Math.max(t.encoderFfnDim, t.decoderFfnDim), H, true));
  } else {
    const b = c as BertConfig;
    out.push(
      m("max_position_embeddings × hidden_size", b.maxPositionEmbeddings, H), m("type_vocab_size × hidden_size", b.typeVocabSize, H),
      m("hidden_size × hidden_size (attention)", H, H, true), m("intermediate_size × hidden_size (MLP)", b.intermediateSize, H, true),
    );
  }
  return out;
}

/** Parameters the config implies (the large matrices only: a lower estimate). */
export function estimateParameters(c: PretrainedConfig): number {
  let n = 0;
  for (const x of matrices(c)) n += x.rows * x.cols * (x.perLayer ? c.numHiddenLayers : 1);
  return n;
}

/**
 * A model built from a config alone (no weights to compare with) must fit this machine: the
 * parameters it implies, at 2 bytes each (the smallest storage here, bf16), within `memoryBytes`
 * (default: the machine's total memory). A ConfigError with the figures otherwise, before any allocation.
 */
export function checkConfigFitsMemory(c: PretrainedConfig, memoryBytes = hostInfo().totalMemoryBytes()): void {
  const params = estimateParameters(c);
  if (params * 2 > memoryBytes) {
    const gb = (b: number) => (b / 2 ** 30).toFixed(1);
    throw new ConfigError(`${c.source}: the config implies at least ${params} parameters (${gb(params * 2)} GiB even in bf16, ${gb(params * 4)} GiB in f32), more than this machine's ${gb(memoryBytes)} GiB of memory; check the size fields (hidden_size, intermediate_size, num_hidden_layers, vocab_size)`);
  }
}

/** Every implied weight matrix must be allocatable; a ConfigError names the fields otherwise. */
export function checkConfigSizes(c: PretrainedConfig): void {
  for (const x of matrices(c)) {
    const n = x.rows * x.cols;
    if (!(n <= MAX_TENSOR_ELEMENTS)) {
      throw new ConfigError(`${c.source}: ${x.what} = ${x.rows} × ${x.cols} = ${n} elements, more than one tensor can hold (${MAX_TENSOR_ELEMENTS}); check the size fields`);
    }
  }
}

/** name → shape of every tensor in the folder's safetensors weights (headers only), or null when it has none. */
function weightShapes(dir: string): Map<string, number[]> | null {
  const single = join(dir, SAFETENSORS_SINGLE), index = join(dir, SAFETENSORS_INDEX);
  const out = new Map<string, number[]>();
  if (getFiles().exists(single)) {
    for (const [k, e] of readSafetensorsHeader(single).tensors) out.set(k, e.shape);
    return out;
  }
  if (!getFiles().exists(index)) return null;
  for (const shard of new Set(readSafetensorsIndex(index).weightMap.values())) {
    const p = join(dir, shard);
    if (!getFiles().exists(p)) continue; // reported by the weight loader
    for (const [k, e] of readSafetensorsHeader(p).tensors) out.set(k, e.shape);
  }
  return out;
}

const EMBEDDING = /(^|\.)(word_embeddings|wte|embed_tokens)\.weight$/;

/**
 * Before allocating a model from `dir`: checks the config's sizes, then that its token
 * embedding shape matches the weights' and that it does not describe a model far larger than
 * the weights hold (extra randomly initialised layers are allowed, a thousandfold is not).
 */
export function checkConfigAgainstWeights(c: PretrainedConfig, dir: string): void {
  checkConfigSizes(c);
  const shapes = weightShapes(dir);
  if (!shapes) return;
  let stored = 0;
  for (const [name, shape] of shapes) {
    stored += shape.reduce((a, d) => a * d, 1);
    if (EMBEDDING.test(name) && !name.includes("position")) {
      const want = [c.vocabSize, c.hiddenSize];
      if (shape.length !== 2 || shape[0] !== want[0] || shape[1] !== want[1]) {
        throw new ConfigError(`${c.source}: vocab_size × hidden_size = [${want}] but the weights in ${dir} hold '${name}' with shape [${shape}]; the config does not describe these weights`);
      }
    }
  }
  const implied = estimateParameters(c);
  if (implied > 4 * stored + 2 ** 24) {
    throw new ConfigError(`${c.source}: the config implies at least ${implied} parameters but the weights in ${dir} hold ${stored}; check the size fields (num_hidden_layers, intermediate_size, ...)`);
  }
}
