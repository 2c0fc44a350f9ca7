// PreTrainedModel: what every model shares — the forward input/output shapes, loading weights by
// HF name (with HF's rules for base-model prefixes, new heads and ignorable keys), saving in HF
// layout, tied weights and HF-style initialisation.

import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Tensor, NestedArray } from "../tensor/tensor.js";
import { ConfigError, FormatError, ShapeError } from "../tensor/errors.js";
import { globalRng, Rng } from "../tensor/random.js";
import { Module } from "../nn/module.js";
import { Embedding, LayerNorm, Linear, RMSNorm } from "../nn/layers.js";
import * as ops from "../ops/index.js";
import { loadSafetensorsDir, saveSafetensors } from "../io/safetensors.js";
import { atomicWriteFile } from "../io/fs.js";
import { applyLabelOptions, configToJSON, loadConfigFile, PretrainedConfig, resolveModelPath } from "../io/hf_config.js";
import { Conv1D } from "../nn/conv1d.js";

/** Token ids or masks: a Tensor or nested number arrays ([B,T], or [T] for one row). */
export type IdsLike = Tensor | number[][] | number[] | Int32Array;

/** One layer's cached (or prefix) keys and values, [B, Hkv, P, D] each. */
export interface KeyValue {
  key: Tensor;
  value: Tensor;
}

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
}

export interface ModelOutput {
  loss?: Tensor;
  logits?: Tensor;
  lastHiddenState?: Tensor;
  poolerOutput?: Tensor;
  /** Embedding output followed by each layer's output (as HF's hidden_states). */
  hiddenStates?: Tensor[];
  startLogits?: Tensor;
  endLogits?: Tensor;
  pastKeyValues?: KeyValue[];
}

export interface IntBatch {
  data: Int32Array;
  shape: [number, number];
}

/** Coerces ids/masks to a [B, T] int batch. */
export function toIntBatch(x: IdsLike, what: string): IntBatch {
  if (x instanceof Tensor) {
    if (x.ndim === 1) return { data: x.i32(), shape: [1, x.shape[0]] };
    if (x.ndim !== 2) throw new ShapeError(`${what}: expected shape [batch, seq], got [${x.shape}]`);
    return { data: x.i32(), shape: [x.shape[0], x.shape[1]] };
  }
  if (x instanceof Int32Array) return { data: x, shape: [1, x.length] };
  if (!Array.isArray(x)) throw new ShapeError(`${what}: expected a Tensor or nested number arrays, got ${typeof x}`);
  if (x.length === 0) throw new ShapeError(`${what}: empty batch`);
  if (!Array.isArray(x[0])) {
    const row = x as number[];
    return { data: Int32Array.from(row), shape: [1, row.length] };
  }
  const rows = x as number[][];
  const T = rows[0].length;
  const data = new Int32Array(rows.length * T);
  rows.forEach((r, b) => {
    if (!Array.isArray(r) || r.length !== T) throw new ShapeError(`${what}: row ${b} has length ${Array.isArray(r) ? r.length : "?"}, expected ${T} (pad the batch)`);
    for (let t = 0; t < T; t++) data[b * T + t] = r[t];
  });
  return { data, shape: [rows.length, T] };
}

export function intTensor(b: IntBatch): Tensor {
  return new Tensor(b.data, b.shape, "i32");
}

export function asFloatTensor(x: Tensor | NestedArray): Tensor {
  return x instanceof Tensor ? x : Tensor.from(x);
}

/** Keys/values of the attention mask for B×(P+T) keys: a [B,T] mask gets P leading ones. */
export function fullKeyMask(mask: IntBatch | null, B: number, T: number, P: number): Tensor | null {
  if (!mask) return null;
  const [mb, mt] = mask.shape;
  if (mb !== B) throw new ShapeError(`attentionMask has batch ${mb}, inputs have batch ${B}`);
  if (mt === P + T) return new Tensor(Float32Array.from(mask.data), [B, P + T]);
  if (mt === T && P > 0) {
    const out = new Float32Array(B * (P + T));
    for (let b = 0; b < B; b++) {
      out.fill(1, b * (P + T), b * (P + T) + P);
      for (let t = 0; t < T; t++) out[b * (P + T) + P + t] = mask.data[b * T + t];
    }
    return new Tensor(out, [B, P + T]);
  }
  throw new ShapeError(`attentionMask has length ${mt}, expected ${T} or ${P + T} (past ${P} + new ${T})`);
}

/** Activation by HF name (ACT2FN). */
export function activation(name: string): (x: Tensor) => Tensor {
  switch (name) {
    case "gelu":
      return (x) => ops.gelu(x, "none");
    case "gelu_new":
    case "gelu_pytorch_tanh":
    case "gelu_fast":
      return (x) => ops.gelu(x, "tanh");
    case "relu":
      return (x) => ops.relu(x);
    case "silu":
    case "swish":
      return (x) => ops.silu(x);
    case "tanh":
      return (x) => ops.tanh(x);
    default:
      throw new ConfigError(`activation '${name}' is not supported (supported: gelu, gelu_new, gelu_pytorch_tanh, relu, silu, tanh)`);
  }
}

/** [B,T,H·D] → [B,H,T,D]. */
export function splitHeads(x: Tensor, heads: number, headDim: number): Tensor {
  const [B, T] = x.shape;
  return x.reshape([B, T, heads, headDim]).transpose(1, 2);
}
/** [B,H,T,D] → [B,T,H·D]. */
export function mergeHeads(x: Tensor): Tensor {
  const [B, H, T, D] = x.shape;
  return x.transpose(1, 2).contiguous().reshape([B, T, H * D]);
}

/**
 * Attention with HF eager semantics (scores → mask → softmax → dropout → ·V) through the fused op;
 * in training the attention dropout is applied to the probabilities inside it, as in PyTorch.
 */
export function attention(
  q: Tensor, k: Tensor, v: Tensor,
  opts: { keyMask: Tensor | null; causal: boolean; scale: number; dropoutP: number; training: boolean },
): Tensor {
  return ops.scaledDotProductAttention(q, k, v, {
    keyMask: opts.keyMask, causal: opts.causal, scale: opts.scale, dropoutP: opts.dropoutP, training: opts.training,
  });
}

/** Concatenates a layer's cache/prefix with this step's keys and values along time. */
export function withPast(past: KeyValue | undefined, k: Tensor, v: Tensor): KeyValue {
  if (!past) return { key: k, value: v };
  if (past.key.ndim !== 4 || past.key.shape[0] !== k.shape[0] || past.key.shape[1] !== k.shape[1] || past.key.shape[3] !== k.shape[3]) {
    throw new ShapeError(`pastKeyValues: key of shape [${past.key.shape}] does not fit this layer's keys [${k.shape}] (expected [B, Hkv, P, D])`);
  }
  return { key: ops.cat([past.key, k], 2), value: ops.cat([past.value, v], 2) };
}

/**
 * Runs a stack of layers as HF does: hidden states are each layer's input and then the final output
 * (after `finalNorm`, for decoders); the new key/value cache is collected when `useCache` is set.
 * Each layer is called through its own forward, so wrappers (gradient checkpointing) still apply.
 */
export function runLayerStack<L>(
  layers: Iterable<L>, h: Tensor, past: KeyValue[] | undefined, inputs: ModelInputs,
  step: (layer: L, h: Tensor, past: KeyValue | undefined, index: number) => { out: Tensor; kv: KeyValue },
  finalNorm?: (h: Tensor) => Tensor,
): ModelOutput {
  const hiddenStates: Tensor[] = [];
  const newKv: KeyValue[] = [];
  let i = 0;
  for (const layer of layers) {
    hiddenStates.push(h);
    const r = step(layer, h, past?.[i], i);
    i++;
    h = r.out;
    newKv.push(r.kv);
  }
  if (finalNorm) h = finalNorm(h);
  hiddenStates.push(h);
  const out: ModelOutput = { lastHiddenState: h };
  if (inputs.outputHiddenStates) out.hiddenStates = hiddenStates;
  if (inputs.useCache) out.pastKeyValues = newKv;
  return out;
}

/** The output kind of a model class from its architecture name (comparable outputs need the same kind). */
export function headKind(arch: string): string {
  if (/ForSequenceClassification$/.test(arch)) return "sequence-classification";
  if (/ForTokenClassification$/.test(arch)) return "token-classification";
  if (/ForQuestionAnswering$/.test(arch)) return "question-answering";
  if (/(ForCausalLM|LMHeadModel)$/.test(arch)) return "causal-lm";
  if (/ForMaskedLM$/.test(arch)) return "masked-lm";
  return "base";
}

/** The last layer limited to one position per batch row (ModelInputs.queryPositions). */
export interface QueryRows {
  /** Per batch row, the position among this call's T tokens. */
  idx: number[];
  /** [B, P + T]: the attention mask with each row's keys after its own position masked (the causal mask for one query). */
  keyMask: Tensor;
}

/** Checks inputs.queryPositions against [B, T] and builds its key mask; null when not asked for (or hidden states are). */
export function queryRows(inputs: ModelInputs, keyMask: Tensor | null, B: number, T: number, P: number): QueryRows | null {
  const idx = inputs.queryPositions;
  if (!idx || inputs.outputHiddenStates) return null;
  if (idx.length !== B || idx.some((t) => !Number.isInteger(t) || t < 0 || t >= T)) {
    throw new ShapeError(`queryPositions [${idx}]: expected ${B} integer positions in [0, ${T})`);
  }
  const Tk = P + T, km = keyMask ? keyMask.f32() : null, m = new Float32Array(B * Tk);
  for (let b = 0; b < B; b++) for (let j = 0; j <= P + idx[b]; j++) m[b * Tk + j] = km ? km[b * Tk + j] : 1;
  return { idx, keyMask: new Tensor(m, [B, Tk]) };
}

/** x[b, idx[b], :] for each batch row b: [B, 1, C]. */
export function gatherRows(x: Tensor, idx: number[]): Tensor {
  const [B, , C] = x.shape;
  return ops.stack(idx.map((t, b) => x.select(0, b).select(0, t)), 0).reshape([B, 1, C]);
}

export function pastLength(past: KeyValue[] | undefined): number {
  return past && past.length > 0 ? past[0].key.shape[2] : 0;
}

export interface LoadOptions {
  numLabels?: number;
  id2label?: Record<number, string>;
  label2id?: Record<string, number>;
  problemType?: "regression" | "single_label_classification" | "multi_label_classification";
  /** Store the (frozen) Linear/Conv1D weights of the base model in bf16. */
  frozenDtype?: "bf16";
  /** Where notices about new/ignored weights go (default console.warn). */
  log?: (line: string) => void;
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
    mkdirSync(dir, { recursive: true });
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

/**
 * Fills `model` from `tensors` (HF names). Handles a checkpoint saved from the base model when
 * loading a head model (names lack the prefix) and the reverse; a missing task head is newly
 * initialised with a notice; other missing, unexpected or wrong-shape names are an error.
 */
export function loadPretrainedWeights(model: PreTrainedModel, tensors: Map<string, Tensor>, source: string, opts: LoadOptions = {}): void {
  const log = opts.log ?? ((s: string) => console.warn(s));
  const prefix = model.baseModelPrefix;
  const expected = model.stateDict();
  const tied = model.tiedWeights();
  const keys = [...tensors.keys()];
  // name in the checkpoint → name in the model
  const hasPrefixInCkpt = keys.some((k) => k.startsWith(prefix + "."));
  const rename = (k: string): string => {
    if (model.hasBasePrefix && !hasPrefixInCkpt && !model.tolerableUnexpected().some((r) => r.test(k))) return `${prefix}.${k}`;
    if (!model.hasBasePrefix && k.startsWith(prefix + ".")) return k.slice(prefix.length + 1);
    return k;
  };
  const loaded = new Map<string, Tensor>();
  const unexpected: string[] = [];
  const tolerated: string[] = [];
  const ignored = model.ignoredUnexpected();
  const tolerable = model.tolerableUnexpected();
  for (const k of keys) {
    const name = rename(k);
    if (expected.has(name)) {
      loaded.set(name, tensors.get(k)!);
      continue;
    }
    if (ignored.some((r) => r.test(k))) continue;
    if (tolerable.some((r) => r.test(name)) || (!model.hasBasePrefix && !k.startsWith(prefix + ".") && hasPrefixInCkpt)) tolerated.push(k);
    else unexpected.push(k);
  }
  const missing: string[] = [];
  const newHead: string[] = [];
  for (const name of expected.keys()) {
    if (loaded.has(name)) continue;
    if (tied[name] !== undefined) continue; // shares the source's storage
    if (model.newHeadModules.some((h) => name === h || name.startsWith(h + "."))) newHead.push(name);
    else missing.push(name);
  }
  const mismatched: string[] = [];
  for (const [name, t] of loaded) {
    const p = expected.get(name)!;
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      mismatched.push(`${name}: checkpoint [${t.shape}] vs model [${p.shape}]`);
    }
  }
  if (missing.length || unexpected.length || mismatched.length) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing tensors: ${missing.join(", ")}`);
    if (unexpected.length) parts.push(`unexpected tensors: ${unexpected.join(", ")}`);
    if (mismatched.length) parts.push(`wrong shapes: ${mismatched.join("; ")}`);
    throw new FormatError(`${source}: weights do not fit ${model.architectureName} (${model.config.modelType}): ${parts.join("; ")}`);
  }
  // copy in place so shared (tied) tensors stay shared
  for (const [name, t] of loaded) {
    const p = expected.get(name)!;
    if (p.dtype === "f32") (p.data as Float32Array).set(t.dtype === "f32" ? (t.data as Float32Array) : t.f32());
    else model.setParameter(name, t.to(p.dtype)); // a weight already stored in bf16 (frozen)
  }
  if (newHead.length) {
    const heads = model.newHeadModules.filter((h) => newHead.some((n) => n === h || n.startsWith(h + ".")));
    for (const h of heads) model.initModule(model.getSubmodule(h));
    log(`Some weights of ${model.architectureName} were not initialized from the model checkpoint at ${source} and are newly initialized: [${newHead.join(", ")}]`);
  }
  if (tolerated.length) {
    log(`Some weights of the model checkpoint at ${source} were not used when initializing ${model.architectureName}: [${tolerated.join(", ")}]`);
  }
  model.tieWeights();
  if (opts.frozenDtype === "bf16") storeFrozenBf16(model);
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

export interface GenerationDefaults {
  maxNewTokens?: number;
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  eosTokenId?: number | number[];
  padTokenId?: number;
}

/** generation_config.json → generate() defaults; absent file → {}. Wrong types are a ConfigError naming the field. */
export function readGenerationConfig(dir: string): GenerationDefaults {
  const file = join(dir, "generation_config.json");
  if (!existsSync(file)) return {};
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ConfigError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const out: GenerationDefaults = {};
  const fields: [string, keyof GenerationDefaults, "number" | "boolean" | "ids"][] = [
    ["max_new_tokens", "maxNewTokens", "number"], ["do_sample", "doSample", "boolean"], ["temperature", "temperature", "number"],
    ["top_k", "topK", "number"], ["top_p", "topP", "number"], ["repetition_penalty", "repetitionPenalty", "number"],
    ["eos_token_id", "eosTokenId", "ids"], ["pad_token_id", "padTokenId", "number"],
  ];
  for (const [key, name, kind] of fields) {
    const v = j[key];
    if (v === undefined || v === null) continue;
    const ok = kind === "boolean" ? typeof v === "boolean"
      : kind === "number" ? typeof v === "number"
      : typeof v === "number" || (Array.isArray(v) && v.every((x) => Number.isInteger(x)));
    if (!ok) throw new ConfigError(`${file}: field '${key}' must be ${kind === "ids" ? "an integer or a list of integers" : `a ${kind}`}, got ${JSON.stringify(v)}`);
    (out as Record<string, unknown>)[name] = v;
  }
  return out;
}

/** Builds a model from a folder (config + weights); used by every class's fromPretrained. */
export function buildFromDir<M extends PreTrainedModel>(
  dir: string, config: PretrainedConfig, make: (c: PretrainedConfig) => M, opts: LoadOptions = {},
): M {
  if (!existsSync(dir)) throw new ConfigError(`${dir}: model folder not found`);
  const model = make(config);
  const tensors = loadSafetensorsDir(dir);
  model.loadWeights(tensors, dir, opts);
  model.generationConfig = readGenerationConfig(dir);
  model.eval();
  return model;
}
