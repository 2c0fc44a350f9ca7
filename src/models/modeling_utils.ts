// PreTrainedModel: what every model shares — the forward input/output shapes, loading weights by
// HF name (with HF's rules for base-model prefixes, new heads and ignorable keys), saving in HF
// layout, tied weights and HF-style initialisation.

import type { BitsAndBytesConfig } from "../quant/bnb_config.js";
import { quantizeModel } from "./quantize.js";
import { getFiles } from "../platform/files.js";
import { join } from "../platform/paths.js";
import { Tensor, NestedArray } from "../tensor/tensor.js";
import { ConfigError, FormatError } from "../tensor/errors.js";
import { globalRng, Rng } from "../tensor/random.js";
import { Module } from "../nn/module.js";
import { Embedding, LayerNorm, Linear, RMSNorm } from "../nn/layers.js";
import type { KeyValue } from "../nn/kv_cache.js";
import { loadSafetensorsDir, saveSafetensors } from "../io/safetensors.js";
import { checkConfigAgainstWeights } from "../io/hf_config_weights.js";
import { readJsonFileChecked } from "../io/json.js";
import { atomicWriteFile } from "../io/fs.js";
import { applyLabelOptions, configToJSON, loadConfigFile, PretrainedConfig, resolveModelPath } from "../io/hf_config.js";
import { Conv1D } from "../nn/conv1d.js";
import type { GenerateOptions } from "./generate.js";
import type { ProcessGroup } from "../dist/process_group.js";

/** Token ids or masks: a Tensor or nested number arrays ([B,T], or [T] for one row). */
export type IdsLike = Tensor | number[][] | number[] | Int32Array;

/** One layer's cached (or prefix) keys and values (defined with the attention blocks in nn). */
export type { KeyValue };

export interface ModelInputs {
  inputIds?: IdsLike;
  attentionMask?: IdsLike;
  tokenTypeIds?: IdsLike;
  positionIds?: IdsLike;
  /** Replaces the token-embedding lookup ([B, T, hidden]); prompt tuning prepends virtual tokens this way. */
  inputsEmbeds?: Tensor | NestedArray;
  /** Task labels: class ids [B] (or floats [B]/[B,C] for regression/multi-label), token ids [B,T] for LM/token tasks. */
  labels?: Tensor | NestedArray;
  /** Question answering: start/end token positions [B]. */
  startPositions?: Tensor | number[];
  endPositions?: Tensor | number[];
  /** Per layer, keys/values prepended to that layer's own (KV cache or prefix tuning). */
  pastKeyValues?: KeyValue[];
  useCache?: boolean;
  outputHiddenStates?: boolean;
  /**
   * Per layer, the attention weights [B, heads, Tq, Tk] after the softmax (as HF's
   * output_attentions); those layers run the eager attention kernels. Like outputHiddenStates, it
   * turns firstTokenOnly / queryPositions off.
   */
  outputAttentions?: boolean;
  /**
   * Encoders (BERT, RoBERTa, DistilBERT): the last layer computes position 0 only, beyond the keys and
   * values it attends over, and lastHiddenState is [B, 1, H]. What a first-token pooler or
   * classification head reads is unchanged, and about 5/6 of the last layer's work is skipped; the
   * sequence-classification heads set it. Ignored when outputHiddenStates is set.
   */
  firstTokenOnly?: boolean;
  /**
   * Causal LMs given labels compute the loss straight from the hidden states and the [B, T, vocab]
   * logits only when `logits` is first read; set this when they will be read anyway (distillation,
   * extra loss terms) so they are computed once, in forward.
   */
  keepLogits?: boolean;
  /**
   * Decoders (Llama family, GPT-2): per batch row, the one position (index into this call's tokens)
   * whose output is wanted; the last layer computes that position only, beyond the keys and values it
   * attends over, and lastHiddenState is [B, 1, H]. The decoder sequence-classification heads set it to
   * each row's last non-pad token. Ignored when outputHiddenStates is set.
   */
  queryPositions?: number[];
  /**
   * Causal LMs without labels (transformers' `logits_to_keep`): N > 0 computes the logits of the last N
   * positions only, [B, N, vocab] (generation's prompt pass reads one row per sequence); 0 or unset keeps all.
   */
  logitsToKeep?: number;
}

export interface ModelOutput {
  loss?: Tensor;
  logits?: Tensor;
  lastHiddenState?: Tensor;
  poolerOutput?: Tensor;
  /** Embedding output followed by each layer's output (as HF's hidden_states). */
  hiddenStates?: Tensor[];
  /** Per layer, the self-attention weights [B, heads, Tq, Tk] (outputAttentions). */
  attentions?: Tensor[];
  startLogits?: Tensor;
  endLogits?: Tensor;
  pastKeyValues?: KeyValue[];
}

/** The output kind of a model class from its architecture name (comparable outputs need the same kind). */
export function headKind(arch: string): string {
  if (/ForSequenceClassification$/.test(arch)) return "sequence-classification";
  if (/ForTokenClassification$/.test(arch)) return "token-classification";
  if (/ForQuestionAnswering$/.test(arch)) return "question-answering";
  if (/(ForCausalLM|LMHeadModel)$/.test(arch)) return "causal-lm";
  if (/ForMaskedLM$/.test(arch)) return "masked-lm";
  if (/ForConditionalGeneration$/.test(arch)) return "seq2seq-lm";
  return "base";
}

export interface LoadOptions {
  numLabels?: number;
  id2label?: Record<number, string>;
  label2id?: Record<string, number>;
  problemType?: "regression" | "single_label_classification" | "multi_label_classification";
  /** Store the (frozen) Linear/Conv1D weights of the base model in bf16. */
  frozenDtype?: "bf16";
  /**
   * HF's `ignore_mismatched_sizes`: a checkpoint tensor whose shape differs from the model's (a head
   * with another number of labels) is skipped and its module newly initialised, with a notice.
   */
  ignoreMismatchedSizes?: boolean;
  /** Where notices about new/ignored weights go (default console.warn). */
  log?: (line: string) => void;
  /**
   * Tensor parallelism (`--tensor_parallel_size`): split the model over this group's ranks, each
   * reading only its slices of the weights (models/parallel.ts). Every rank must load the same way.
   */
  tensorParallel?: ProcessGroup;
  /**
   * transformers' `gguf_file`: load this GGUF file (in the folder given to fromPretrained) instead of
   * config.json + safetensors. Llama-family causal LMs only (AutoModelForCausalLM).
   */
  ggufFile?: string;
  /**
   * With ggufFile: dequantise the file's block-quantised Linear weights (Q8_0, Q4_0, Q4_1, Q4_K, Q6_K) to
   * f32 at load, as transformers does. Default false: they stay in their ggml blocks as QuantLinear
   * layers (dequant-in-GEMM); embeddings, norms and the LM head are f32 either way.
   */
  ggufDequantize?: boolean;
  /** transformers' `quantization_config` (BitsAndBytesConfig or its HF dict): int8/NF4/FP4 frozen Linear weights (models/quantize.ts). */
  quantizationConfig?: BitsAndBytesConfig | Record<string, unknown>;
}

export abstract class PreTrainedModel extends Module {
  config: PretrainedConfig;
  /** Attribute holding the base model in head models ("bert", "transformer", "model"). */
  abstract readonly baseModelPrefix: string;
  readonly mainInputName: string = "input_ids";
  /** Defaults for generate() from generation_config.json (HF spelling mapped to option names). */
  generationConfig: GenerationDefaults = {};
  /** Submodule names of task heads that may be missing from a checkpoint (newly initialised). */
  readonly newHeadModules: string[] = [];

  constructor(config: PretrainedConfig) {
    super();
    this.config = config;
  }

  abstract forward(inputs: ModelInputs): ModelOutput;
  /** The HF class name written to config.json "architectures" (e.g. RobertaForMaskedLM). */
  get architectureName(): string {
    return this.constructor.name;
  }
  /** Loads a folder (or a hub id in the local cache) into this class. */
  static async fromPretrained<T extends PreTrainedModel>(this: new (config: PretrainedConfig) => T, dirOrId: string, opts: LoadOptions = {}): Promise<T> {
    const dir = await resolveModelPath(dirOrId);
    const config = applyLabelOptions(loadConfigFile(dir), opts);
    if (opts.tensorParallel) return (await import("./parallel.js")).buildTensorParallel(dir, config, (c) => new this(c), opts.tensorParallel, opts);
    return buildFromDir(dir, config, (c) => new this(c), opts);
  }
  abstract getInputEmbeddings(): Embedding;
  /** Tied parameter names → the parameter they share storage with (not saved). */
  tiedWeights(): Record<string, string> {
    return {};
  }
  /** Re-points tied parameters at their sources (after a source tensor was replaced). */
  tieWeights(): void {
    for (const [dst, src] of Object.entries(this.tiedWeights())) this.setParameter(dst, this.stateDict().get(src)!);
  }
  /** Unexpected checkpoint keys that are skipped silently (buffers, other tasks' heads). */
  ignoredUnexpected(): RegExp[] {
    return [/(^|\.)position_ids$/, /\.attn\.(masked_)?bias$/, /rotary_emb\.inv_freq$/];
  }
  /** Unexpected keys skipped with a notice (e.g. another task's head), like HF's warning. */
  tolerableUnexpected(): RegExp[] {
    return [/^(cls|classifier|qa_outputs|score|lm_head|pre_classifier|vocab_transform|vocab_layer_norm|vocab_projector)\./];
  }
  /** True when this model wraps a base model under baseModelPrefix (a head model). */
  get hasBasePrefix(): boolean {
    return this.children().some(([n]) => n === this.baseModelPrefix);
  }

  /** HF _init_weights: Linear/Conv1D N(0, initializer_range) with zero bias, Embedding N(0, ·) with a zero padding row, norms 1/0. */
  initModule(m: Module, rng: Rng = globalRng): void {
    const std = this.config.initializerRange;
    // tied parameters belong to their source (e.g. the word embeddings behind an LM decoder)
    const sd = this.stateDict();
    const tied = new Set(Object.keys(this.tiedWeights()).map((n) => sd.get(n)));
    const fill = (t: Tensor | null, f: (d: Float32Array) => void) => {
      if (t) f(t.data as Float32Array);
    };
    for (const [, sub] of m.namedModules()) {
      if (sub instanceof Linear || sub instanceof Conv1D) {
        if (!tied.has(sub.weight)) fill(sub.weight, (d) => rng.fillNormal(d, 0, std));
        fill(sub.bias, (d) => d.fill(0));
      } else if (sub instanceof Embedding) {
        fill(sub.weight, (d) => rng.fillNormal(d, 0, std));
        const pad = this.config.padTokenId;
        if (pad !== null && pad >= 0 && pad < sub.numEmbeddings && sub === this.getInputEmbeddings()) {
          sub.weight.data.fill(0, pad * sub.embeddingDim, (pad + 1) * sub.embeddingDim);
        }
      } else if (sub instanceof LayerNorm) {
        fill(sub.weight, (d) => d.fill(1));
        fill(sub.bias, (d) => d.fill(0));
      } else if (sub instanceof RMSNorm) {
        fill(sub.weight, (d) => d.fill(1));
      }
    }
  }
  /** Initialises every weight as HF does for a model built from a config (no checkpoint). */
  initWeights(rng: Rng = globalRng): this {
    this.initModule(this, rng);
    this.tieWeights();
    return this;
  }

  /** Loads weights by HF name; see loadPretrainedWeights. */
  loadWeights(tensors: Map<string, Tensor>, source: string, opts: LoadOptions = {}): void {
    loadPretrainedWeights(this, tensors, source, opts);
  }

  /** Writes config.json (HF spelling) and model.safetensors ({"format":"pt"}, tied weights once), atomically. */
  async savePretrained(dir: string): Promise<void> {
    getFiles().mkdir(dir);
    const tied = new Set(Object.keys(this.tiedWeights()));
    const out = new Map<string, Tensor>();
    for (const [name, t] of this.stateDict()) {
      if (tied.has(name)) continue;
      out.set(name, t.dtype === "f32" ? t.contiguous().detach() : t);
    }
    saveSafetensors(join(dir, "model.safetensors"), out, { format: "pt" });
    atomicWriteFile(join(dir, "config.json"), JSON.stringify(configToJSON(this.config, [this.architectureName]), null, 2) + "\n");
  }
}

/** How checkpoint names map onto a model: model name → checkpoint key, new head tensors, tolerated keys. */
export interface WeightPlan {
  byName: Map<string, string>;
  newHead: string[];
  tolerated: string[];
  /** Parameters left out because their checkpoint shape differs (ignoreMismatchedSizes): newly initialised. */
  mismatched: { name: string; found: readonly number[]; want: readonly number[] }[];
}

/**
 * Maps checkpoint keys (with their shapes) onto `model`'s parameters with HF's rules: a checkpoint
 * saved from the base model when loading a head model (names lack the prefix) and the reverse; a
 * missing task head is to be newly initialised; other missing, unexpected or wrong-shape names are a
 * FormatError, except wrong shapes with `ignoreMismatched` (HF's ignore_mismatched_sizes: left out,
 * to be newly initialised). `expectedShape` gives the checkpoint shape a parameter wants (default its own).
 */
export function planWeightLoad(
  model: PreTrainedModel, shapes: Map<string, readonly number[]>, source: string,
  expectedShape: (name: string, p: Tensor) => readonly number[] = (_, p) => p.shape,
  ignoreMismatched = false,
): WeightPlan {
  const prefix = model.baseModelPrefix;
  const expected = model.stateDict();
  const tied = model.tiedWeights();
  const keys = [...shapes.keys()];
  // name in the checkpoint → name in the model
  const hasPrefixInCkpt = keys.some((k) => k.startsWith(prefix + "."));
  const rename = (k: string): string => {
    if (model.hasBasePrefix && !hasPrefixInCkpt && !model.tolerableUnexpected().some((r) => r.test(k))) return `${prefix}.${k}`;
    if (!model.hasBasePrefix && k.startsWith(prefix + ".")) return k.slice(prefix.length + 1);
    return k;
  };
  const byName = new Map<string, string>();
  const unexpected: string[] = [];
  const tolerated: string[] = [];
  const ignored = model.ignoredUnexpected();
  const tolerable = model.tolerableUnexpected();
  for (const k of keys) {
    const name = rename(k);
    if (expected.has(name)) {
      byName.set(name, k);
      continue;
    }
    if (ignored.some((r) => r.test(k))) continue;
    if (tolerable.some((r) => r.test(name)) || (!model.hasBasePrefix && !k.startsWith(prefix + ".") && hasPrefixInCkpt)) tolerated.push(k);
    else unexpected.push(k);
  }
  const missing: string[] = [];
  const newHead: string[] = [];
  for (const name of expected.keys()) {
    if (byName.has(name)) continue;
    if (tied[name] !== undefined) continue; // shares the source's storage
    if (model.newHeadModules.some((h) => name === h || name.startsWith(h + "."))) newHead.push(name);
    else missing.push(name);
  }
  const mismatched: string[] = [];
  const skipped: WeightPlan["mismatched"] = [];
  for (const [name, k] of byName) {
    const t = shapes.get(k)!, want = expectedShape(name, expected.get(name)!);
    if (t.length !== want.length || t.some((d, i) => d !== want[i])) {
      if (ignoreMismatched) skipped.push({ name, found: t, want });
      else mismatched.push(`${name}: checkpoint [${t}] vs model [${want}]`);
    }
  }
  for (const { name } of skipped) byName.delete(name);
  if (missing.length || unexpected.length || mismatched.length) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing tensors: ${missing.join(", ")}`);
    if (unexpected.length) parts.push(`unexpected tensors: ${unexpected.join(", ")}`);
    if (mismatched.length) parts.push(`wrong shapes: ${mismatched.join("; ")} (a head of another size is re-initialised with ignore_mismatched_sizes)`);
    throw new FormatError(`${source}: weights do not fit ${model.architectureName} (${model.config.modelType}): ${parts.join("; ")}`);
  }
  return { byName, newHead, tolerated, mismatched: skipped };
}

/** After the tensors of a plan were copied in: new heads initialised, HF's notices, tied weights, bf16 storage. */
export function finishWeightLoad(model: PreTrainedModel, plan: WeightPlan, source: string, opts: LoadOptions = {}): void {
  const log = opts.log ?? ((s: string) => console.warn(s));
  const { newHead, tolerated } = plan;
  if (newHead.length) {
    const heads = model.newHeadModules.filter((h) => newHead.some((n) => n === h || n.startsWith(h + ".")));
    for (const h of heads) model.initModule(model.getSubmodule(h));
    log(`Some weights of ${model.architectureName} were not initialized from the model checkpoint at ${source} and are newly initialized: [${newHead.join(", ")}]`);
  }
  if (plan.mismatched.length) {
    // the modules owning the skipped tensors start afresh (weight and bias together), as HF does
    const owners = new Set(plan.mismatched.map(({ name }) => name.slice(0, Math.max(0, name.lastIndexOf(".")))));
    for (const path of owners) model.initModule(path ? model.getSubmodule(path) : model);
    log(`Some weights of ${model.architectureName} were not initialized from the model checkpoint at ${source} and are newly initialized because the shapes did not match:\n` +
      plan.mismatched.map(({ name, found, want }) => `- ${name}: found shape [${found.join(", ")}] in the checkpoint and [${want.join(", ")}] in the model instantiated`).join("\n"));
  }
  if (tolerated.length) {
    log(`Some weights of the model checkpoint at ${source} were not used when initializing ${model.architectureName}: [${tolerated.join(", ")}]`);
  }
  model.tieWeights();
  if (opts.frozenDtype === "bf16") storeFrozenBf16(model);
  if (opts.quantizationConfig) quantizeModel(model, opts.quantizationConfig);
}

/**
 * Fills `model` from `tensors` (HF names); see planWeightLoad for the naming rules and errors.
 */
export function loadPretrainedWeights(model: PreTrainedModel, tensors: Map<string, Tensor>, source: string, opts: LoadOptions = {}): void {
  const shapes = new Map<string, readonly number[]>();
  for (const [k, t] of tensors) shapes.set(k, t.shape);
  const plan = planWeightLoad(model, shapes, source, undefined, opts.ignoreMismatchedSizes);
  const expected = model.stateDict();
  // copy in place so shared (tied) tensors stay shared
  for (const [name, k] of plan.byName) {
    const p = expected.get(name)!, t = tensors.get(k)!;
    if (p.dtype === "f32") (p.data as Float32Array).set(t.dtype === "f32" ? (t.data as Float32Array) : t.f32());
    else model.setParameter(name, t.to(p.dtype)); // a weight already stored in bf16 (frozen)
  }
  finishWeightLoad(model, plan, source, opts);
}

/** Converts the base model's Linear/Conv1D weights to bf16 storage (frozen: no gradient). */
export function storeFrozenBf16(model: PreTrainedModel): void {
  const heads = new Set(model.newHeadModules);
  const tiedSources = new Set(Object.values(model.tiedWeights()));
  for (const [path, m] of model.namedModules()) {
    if (!(m instanceof Linear || m instanceof Conv1D)) continue;
    if ([...heads].some((h) => path === h || path.startsWith(h + "."))) continue;
    const name = path ? `${path}.weight` : "weight";
    if (tiedSources.has(name) || Object.keys(model.tiedWeights()).includes(name)) continue;
    const bf = m.weight.detach().to("bf16");
    bf.name = name;
    m.registerParameter("weight", bf);
  }
}

/** The generate() options generation_config.json may set (its eos_token_id is never null). */
export type GenerationDefaults = Pick<GenerateOptions, "maxNewTokens" | "doSample" | "temperature" | "topK" | "topP" | "repetitionPenalty" | "padTokenId"
  | "numBeams" | "lengthPenalty" | "earlyStopping" | "noRepeatNgramSize" | "numReturnSequences" | "minNewTokens"
  | "decoderStartTokenId" | "forcedBosTokenId" | "forcedEosTokenId"> & {
  eosTokenId?: number | number[];
};

/** generation_config.json → generate() defaults; absent file → {}. Wrong types are a ConfigError naming the field. */
export function readGenerationConfig(dir: string): GenerationDefaults {
  const file = join(dir, "generation_config.json");
  if (!getFiles().exists(file)) return {};
  const parsed = readJsonFileChecked(file, "generation_config.json");
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new FormatError(`${file}: expected a JSON object, found ${JSON.stringify(parsed)?.slice(0, 40)}`);
  const j = parsed as Record<string, unknown>;
  const out: GenerationDefaults = {};
  const fields: [string, keyof GenerationDefaults, "number" | "boolean" | "ids" | "early"][] = [
    ["max_new_tokens", "maxNewTokens", "number"], ["do_sample", "doSample", "boolean"], ["temperature", "temperature", "number"],
    ["top_k", "topK", "number"], ["top_p", "topP", "number"], ["repetition_penalty", "repetitionPenalty", "number"],
    ["eos_token_id", "eosTokenId", "ids"], ["pad_token_id", "padTokenId", "number"],
    ["num_beams", "numBeams", "number"], ["length_penalty", "lengthPenalty", "number"], ["early_stopping", "earlyStopping", "early"],
    ["no_repeat_ngram_size", "noRepeatNgramSize", "number"], ["num_return_sequences", "numReturnSequences", "number"],
    ["min_new_tokens", "minNewTokens", "number"], ["decoder_start_token_id", "decoderStartTokenId", "number"],
    ["forced_bos_token_id", "forcedBosTokenId", "number"], ["forced_eos_token_id", "forcedEosTokenId", "number"],
  ];
  const expected = { boolean: "a boolean", number: "a number", ids: "an integer or a list of integers", early: 'true, false or "never"' };
  for (const [key, name, kind] of fields) {
    const v = j[key];
    if (v === undefined || v === null) continue;
    const ok = kind === "boolean" ? typeof v === "boolean"
      : kind === "number" ? typeof v === "number"
      : kind === "early" ? typeof v === "boolean" || v === "never"
      : typeof v === "number" || (Array.isArray(v) && v.every((x) => Number.isInteger(x)));
    if (!ok) throw new ConfigError(`${file}: field '${key}' must be ${expected[kind]}, got ${JSON.stringify(v)}`);
    (out as Record<string, unknown>)[name] = v;
  }
  return out;
}

/** Builds a model from a folder (config + weights); used by every class's fromPretrained. */
export function buildFromDir<M extends PreTrainedModel>(
  dir: string, config: PretrainedConfig, make: (c: PretrainedConfig) => M, opts: LoadOptions = {},
): M {
  if (!getFiles().exists(dir)) throw new ConfigError(`${dir}: model folder not found`);
  checkConfigAgainstWeights(config, dir);
  const model = make(config);
  const tensors = loadSafetensorsDir(dir);
  model.loadWeights(tensors, dir, opts);
  model.generationConfig = readGenerationConfig(dir);
  model.eval();
  return model;
}
