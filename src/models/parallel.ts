// Tensor (model) parallelism, Megatron-LM style, for the Llama family and BERT/RoBERTa: the model-
// level equivalent of `--tensor_parallel_size K`. parallelizeModel swaps the big layers of a built
// model for their sharded versions (src/nn/parallel); fromPretrainedTensorParallel builds the model
// without allocating those layers at full size and reads only this rank's slices from safetensors.
//   Llama: attention split by heads (q/k/v column-parallel, o_proj row-parallel; GQA: the key/value
//   heads are split too), MLP gate/up column-parallel, down row-parallel; embed_tokens and lm_head
//   vocab-parallel, with the vocab-parallel cross entropy as the causal-LM loss.
//   BERT/RoBERTa: attention split by heads (query/key/value column, attention.output.dense row),
//   intermediate.dense column, output.dense row; embeddings, pooler and task heads replicated.
// Per sub-block (attention, MLP): one allreduce in forward (the row-parallel layer), one in backward
// (copyToParallel at the block's entry, shared by its column-parallel layers).
import { ConfigError } from "../tensor/errors.js";
import type { ProcessGroup } from "../dist/process_group.js";
import { Linear, isDeferred, withDeferredWeights } from "../nn/layers.js";
import type { Module } from "../nn/module.js";
import { Tensor } from "../tensor/tensor.js";
import {
  ColumnParallelLinear, RowParallelLinear, VocabParallelEmbedding, localShape, setTensorParallel, shardSpecOf, tensorParallelGroupOf,
} from "../nn/parallel/index.js";
import { checkpointTensors, readTensorSlice } from "../io/safetensors_slice.js";
import { applyLabelOptions, loadConfigFile, resolveModelPath, type PretrainedConfig } from "../io/hf_config.js";
import { finishWeightLoad, planWeightLoad, readGenerationConfig, type LoadOptions, type PreTrainedModel } from "./modeling_utils.js";
import { LlamaAttention, LlamaMLP, LlamaModel } from "./llama.js";
import { BertAttention, BertIntermediate, BertLayer, BertSelfAttention } from "./bert.js";
import { CausalLMModel } from "./head_models.js";
import { checkConfigAgainstWeights } from "../io/hf_config_weights.js";

/** Model types parallelizeModel splits. */
export const TENSOR_PARALLEL_MODEL_TYPES = ["llama", "mistral", "qwen2", "bert", "roberta"] as const;

function divisible(what: string, n: number, K: number, source: string): void {
  if (n % K !== 0) {
    throw new ConfigError(`${source}: tensor parallelism splits attention by heads: ${what} (${n}) must be divisible by tensor_parallel_size (${K})`);
  }
}

function col(m: Module, name: string, group: ProcessGroup, opts: { inputCopied?: boolean; gatherOutput?: boolean } = {}): void {
  const lin = m.getSubmodule(name);
  if (!(lin instanceof Linear) || lin instanceof ColumnParallelLinear || lin instanceof RowParallelLinear) {
    throw new ConfigError(`parallelizeModel: '${name}' of ${m.constructor.name} is ${lin.constructor.name}, expected a plain Linear (parallelize before adding adapters)`);
  }
  m.setSubmodule(name, ColumnParallelLinear.fromLinear(lin, group, { inputCopied: true, ...opts }));
}
function row(m: Module, name: string, group: ProcessGroup): void {
  const lin = m.getSubmodule(name);
  if (!(lin instanceof Linear) || lin instanceof ColumnParallelLinear || lin instanceof RowParallelLinear) {
    throw new ConfigError(`parallelizeModel: '${name}' of ${m.constructor.name} is ${lin.constructor.name}, expected a plain Linear (parallelize before adding adapters)`);
  }
  m.setSubmodule(name, RowParallelLinear.fromLinear(lin as Linear, group));
}

/**
 * Splits `model` (a Llama-family or BERT/RoBERTa model, base or head model, before any adapter is
 * added) over the ranks of `group`, in place; returns it. Every rank must call it with the same
 * model. Requires num_attention_heads and num_key_value_heads divisible by group.worldSize (other
 * dims may split unevenly, e.g. 37 features as 19 + 18).
 */
export function parallelizeModel<M extends PreTrainedModel>(model: M, group: ProcessGroup): M {
  const c = model.config;
  const src = c.source;
  if (!(TENSOR_PARALLEL_MODEL_TYPES as readonly string[]).includes(c.modelType)) {
    throw new ConfigError(`${src}: tensor parallelism supports model types ${TENSOR_PARALLEL_MODEL_TYPES.join(", ")}, not '${c.modelType}'`);
  }
  if (tensorParallelGroupOf(model)) throw new ConfigError(`parallelizeModel: ${model.architectureName} is already tensor-parallel`);
  const K = group.worldSize;
  for (const [, m] of model.namedModules()) {
    if (m instanceof LlamaAttention) {
      divisible("num_attention_heads", m.config.numAttentionHeads, K, src);
      divisible("num_key_value_heads", m.config.numKeyValueHeads, K, src);
      for (const n of ["q_proj", "k_proj", "v_proj"]) col(m, n, group);
      row(m, "o_proj", group);
      m.numHeads = m.config.numAttentionHeads / K;
      m.numKeyValueHeads = m.config.numKeyValueHeads / K;
      m.tpGroup = group;
    } else if (m instanceof LlamaMLP) {
      col(m, "gate_proj", group);
      col(m, "up_proj", group);
      row(m, "down_proj", group);
      m.tpGroup = group;
    } else if (m instanceof LlamaModel) {
      m.setSubmodule("embed_tokens", VocabParallelEmbedding.fromEmbedding(m.embed_tokens, group));
    } else if (m instanceof BertSelfAttention) {
      divisible("num_attention_heads", m.heads, K, src);
      for (const n of ["query", "key", "value"]) col(m, n, group);
      m.heads /= K;
      m.tpGroup = group;
    } else if (m instanceof BertAttention) {
      row(m.output, "dense", group);
    } else if (m instanceof BertIntermediate) {
      col(m, "dense", group);
      m.tpGroup = group;
    } else if (m instanceof BertLayer) {
      row(m.output, "dense", group);
    }
  }
  if (model instanceof CausalLMModel && model.base instanceof LlamaModel) {
    // the LM head is vocab-parallel: its loss never forms full-vocab logits; read logits are gathered
    col(model, "lm_head", group, { inputCopied: false, gatherOutput: true });
  }
  model.tieWeights();
  setTensorParallel(model, group);
  return model;
}

/** Gives every still-deferred (replicated) parameter zero storage of its full shape. */
function materializeDeferred(model: PreTrainedModel): void {
  for (const [path, m] of model.namedModules()) {
    for (const [n, p] of m.ownParameters()) {
      if (!p || !isDeferred(p)) continue;
      const t = Tensor.zeros(p.shape);
      t.requiresGrad = p.requiresGrad;
      t.name = path ? `${path}.${n}` : n;
      m.registerParameter(n, t);
    }
  }
  model.tieWeights();
}

/**
 * Fills a (tensor-parallel) model from the safetensors of `dir`, reading for each sharded parameter
 * only this rank's slice (HF's naming rules and errors, as loadPretrainedWeights).
 */
export function loadShardedWeights(model: PreTrainedModel, dir: string, opts: LoadOptions = {}): void {
  const ckpt = checkpointTensors(dir);
  const shapes = new Map<string, readonly number[]>();
  for (const [k, t] of ckpt) shapes.set(k, t.entry.shape);
  const plan = planWeightLoad(model, shapes, dir, (_, p) => shardSpecOf(p)?.full ?? p.shape, opts.ignoreMismatchedSizes);
  const expected = model.stateDict();
  for (const [name, k] of plan.byName) {
    const p = expected.get(name)!;
    const spec = shardSpecOf(p);
    const dst = p.data as Float32Array;
    if (!spec) readTensorSlice(ckpt.get(k)!, k, 0, 0, p.shape[0] ?? 1, dst);
    else readTensorSlice(ckpt.get(k)!, k, spec.dim, spec.start, localShape(spec)[spec.dim], dst);
  }
  finishWeightLoad(model, plan, dir, { ...opts, frozenDtype: undefined });
}

/**
 * buildFromDir split over `group`: no rank allocates or reads the full weights of a sharded layer
 * (only the replicated ones: norms, BERT's embeddings and heads). Every rank calls it.
 */
export function buildTensorParallel<M extends PreTrainedModel>(
  dir: string, config: PretrainedConfig, make: (c: PretrainedConfig) => M, group: ProcessGroup, opts: LoadOptions = {},
): M {
  if (opts.frozenDtype) throw new ConfigError(`${dir}: frozenDtype '${opts.frozenDtype}' is not supported with tensor parallelism`);
  if (opts.quantizationConfig) throw new ConfigError(`${dir}: quantizationConfig (8-bit / 4-bit bases) is not supported with tensor parallelism`);
  checkConfigAgainstWeights(config, dir);
  const model = withDeferredWeights(() => make(config));
  parallelizeModel(model, group);
  materializeDeferred(model);
  loadShardedWeights(model, dir, opts);
  model.generationConfig = readGenerationConfig(dir);
  model.eval();
  return model;
}

/** `Cls.fromPretrained(dir, { tensorParallel: group })` as a function. */
export async function fromPretrainedTensorParallel<T extends PreTrainedModel>(
  cls: new (config: PretrainedConfig) => T, dirOrId: string, group: ProcessGroup, opts: LoadOptions = {},
): Promise<T> {
  const dir = await resolveModelPath(dirOrId);
  return buildTensorParallel(dir, applyLabelOptions(loadConfigFile(dir), opts), (c) => new cls(c), group, opts);
}
