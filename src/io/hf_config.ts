// Hugging Face config.json → typed configs (camelCase inside, HF spelling kept in `raw` for writing back).
// Absent fields get the defaults of the transformers config classes; transformers 4.x and 5.x
// spellings are both read (rope_theta vs rope_parameters, torch_dtype vs dtype).

import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../tensor/errors.js";
import { resolveModelDir } from "./hub.js";

export const SUPPORTED_MODEL_TYPES = ["bert", "roberta", "distilbert", "gpt2", "llama", "mistral", "qwen2"] as const;
export type ModelType = (typeof SUPPORTED_MODEL_TYPES)[number];
export type ProblemType = "regression" | "single_label_classification" | "multi_label_classification";
const PROBLEM_TYPES: ProblemType[] = ["regression", "single_label_classification", "multi_label_classification"];

export interface BaseConfig {
  modelType: ModelType;
  architectures: string[];
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  initializerRange: number;
  hiddenAct: string;
  padTokenId: number | null;
  bosTokenId: number | null;
  eosTokenId: number | number[] | null;
  tieWordEmbeddings: boolean;
  useCache: boolean;
  numLabels: number;
  id2label: Record<number, string>;
  label2id: Record<string, number>;
  problemType: ProblemType | null;
  dtype: string | null;
  /** The JSON as read (HF spelling); savePretrained writes it back with the typed changes overlaid. */
  raw: Record<string, unknown>;
  /** Where the config came from (file path or "<object>"), for error messages. */
  source: string;
}

/** BERT, RoBERTa and DistilBERT (DistilBERT's dim/n_layers/… are mapped onto these names). */
export interface BertConfig extends BaseConfig {
  modelType: "bert" | "roberta" | "distilbert";
  intermediateSize: number;
  hiddenDropoutProb: number;
  attentionProbsDropoutProb: number;
  maxPositionEmbeddings: number;
  typeVocabSize: number;
  layerNormEps: number;
  classifierDropout: number | null;
  positionEmbeddingType: string;
  /** DistilBERT only. */
  seqClassifDropout: number;
  qaDropout: number;
  sinusoidalPosEmbds: boolean;
}

export interface GPT2Config extends BaseConfig {
  modelType: "gpt2";
  nPositions: number;
  nInner: number | null;
  residPdrop: number;
  embdPdrop: number;
  attnPdrop: number;
  layerNormEpsilon: number;
  scaleAttnWeights: boolean;
  scaleAttnByInverseLayerIdx: boolean;
  reorderAndUpcastAttn: boolean;
}

export interface RopeScaling {
  ropeType: "default" | "linear";
  factor: number;
}

export interface LlamaConfig extends BaseConfig {
  modelType: "llama" | "mistral" | "qwen2";
  intermediateSize: number;
  numKeyValueHeads: number;
  headDim: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  attentionBias: boolean;
  /** Qwen2 puts biases on q/k/v only; Llama's attention_bias covers all four projections. */
  qkvBias: boolean;
  oBias: boolean;
  attentionDropout: number;
  mlpBias: boolean;
  slidingWindow: number | null;
}

export type PretrainedConfig = BertConfig | GPT2Config | LlamaConfig;

type Json = Record<string, unknown>;

class Reader {
  constructor(readonly json: Json, readonly source: string) {}
  private bad(key: string, want: string): never {
    throw new ConfigError(`${this.source}: field '${key}' must be ${want}, got ${JSON.stringify(this.json[key])}`);
  }
  has(key: string): boolean {
    return this.json[key] !== undefined && this.json[key] !== null;
  }
  num(key: string, def: number): number {
    const v = this.json[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== "number" || !Number.isFinite(v)) this.bad(key, "a number");
    return v;
  }
  int(key: string, def: number): number {
    const v = this.num(key, def);
    if (!Number.isInteger(v)) this.bad(key, "an integer");
    return v;
  }
  posInt(key: string, def: number): number {
    const v = this.int(key, def);
    if (v <= 0) this.bad(key, "a positive integer");
    return v;
  }
  optInt(key: string, def: number | null): number | null {
    const v = this.json[key];
    if (v === undefined || v === null) return def;
    return this.int(key, 0);
  }
  optNum(key: string, def: number | null): number | null {
    const v = this.json[key];
    if (v === undefined || v === null) return def;
    return this.num(key, 0);
  }
  bool(key: string, def: boolean): boolean {
    const v = this.json[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== "boolean") this.bad(key, "true or false");
    return v;
  }
  str(key: string, def: string): string {
    const v = this.json[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== "string") this.bad(key, "a string");
    return v;
  }
  intOrList(key: string, def: number | number[] | null): number | number[] | null {
    const v = this.json[key];
    if (v === undefined || v === null) return def;
    if (Array.isArray(v)) {
      if (!v.every((x) => Number.isInteger(x))) this.bad(key, "an integer or a list of integers");
      return v as number[];
    }
    return this.int(key, 0);
  }
  strList(key: string): string[] {
    const v = this.json[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) this.bad(key, "a list of strings");
    return v as string[];
  }
  object(key: string): Json | null {
    const v = this.json[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== "object" || Array.isArray(v)) this.bad(key, "an object");
    return v as Json;
  }
}

function readLabels(r: Reader): Pick<BaseConfig, "numLabels" | "id2label" | "label2id" | "problemType"> {
  const id2labelRaw = r.object("id2label");
  let id2label: Record<number, string> = {};
  if (id2labelRaw) {
    for (const [k, v] of Object.entries(id2labelRaw)) {
      if (!/^\d+$/.test(k) || typeof v !== "string") {
        throw new ConfigError(`${r.source}: field 'id2label' must map integer ids to label strings, got ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
      }
      id2label[Number(k)] = v;
    }
  }
  // HF: num_labels is len(id2label) when id2label is given, else num_labels (default 2).
  const numLabels = id2labelRaw ? Object.keys(id2label).length : r.posInt("num_labels", 2);
  if (!id2labelRaw) id2label = defaultId2Label(numLabels);
  const label2idRaw = r.object("label2id");
  const label2id: Record<string, number> = {};
  if (label2idRaw) {
    for (const [k, v] of Object.entries(label2idRaw)) {
      if (!Number.isInteger(v)) throw new ConfigError(`${r.source}: field 'label2id' must map labels to integer ids, got ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
      label2id[k] = v as number;
    }
  } else {
    for (const [id, l] of Object.entries(id2label)) label2id[l] = Number(id);
  }
  const pt = r.json.problem_type;
  if (pt !== undefined && pt !== null && !PROBLEM_TYPES.includes(pt as ProblemType)) {
    throw new ConfigError(`${r.source}: field 'problem_type' must be one of ${PROBLEM_TYPES.join(", ")}, got ${JSON.stringify(pt)}`);
  }
  return { numLabels, id2label, label2id, problemType: (pt as ProblemType | undefined) ?? null };
}

export function defaultId2Label(n: number): Record<number, string> {
  const out: Record<number, string> = {};
  for (let i = 0; i < n; i++) out[i] = `LABEL_${i}`;
  return out;
}

function base(r: Reader, modelType: ModelType, d: { vocab: number; hidden: number; layers: number; heads: number; act: string; pad: number | null; bos: number | null; eos: number | null; tie: boolean }) {
  const dtype = r.has("dtype") ? r.str("dtype", "float32") : r.has("torch_dtype") ? r.str("torch_dtype", "float32") : null;
  return {
    modelType,
    architectures: r.strList("architectures"),
    vocabSize: r.posInt("vocab_size", d.vocab),
    hiddenSize: r.posInt("hidden_size", d.hidden),
    numHiddenLayers: r.posInt("num_hidden_layers", d.layers),
    numAttentionHeads: r.posInt("num_attention_heads", d.heads),
    initializerRange: r.num("initializer_range", 0.02),
    hiddenAct: r.str("hidden_act", d.act),
    // an explicit null in the file means "none"; an absent key means the class default
    padTokenId: r.optInt("pad_token_id", "pad_token_id" in r.json ? null : d.pad),
    bosTokenId: r.optInt("bos_token_id", "bos_token_id" in r.json ? null : d.bos),
    eosTokenId: r.intOrList("eos_token_id", "eos_token_id" in r.json ? null : d.eos),
    tieWordEmbeddings: r.bool("tie_word_embeddings", d.tie),
    useCache: r.bool("use_cache", true),
    dtype,
    ...readLabels(r),
    raw: r.json,
    source: r.source,
  };
}

function bertConfig(r: Reader, modelType: "bert" | "roberta"): BertConfig {
  const roberta = modelType === "roberta";
  return {
    ...base(r, modelType, { vocab: roberta ? 50265 : 30522, hidden: 768, layers: 12, heads: 12, act: "gelu", pad: roberta ? 1 : 0, bos: roberta ? 0 : null, eos: roberta ? 2 : null, tie: true }),
    modelType,
    intermediateSize: r.posInt("intermediate_size", 3072),
    hiddenDropoutProb: r.num("hidden_dropout_prob", 0.1),
    attentionProbsDropoutProb: r.num("attention_probs_dropout_prob", 0.1),
    maxPositionEmbeddings: r.posInt("max_position_embeddings", 512),
    typeVocabSize: r.int("type_vocab_size", 2),
    layerNormEps: r.num("layer_norm_eps", 1e-12),
    classifierDropout: r.optNum("classifier_dropout", null),
    positionEmbeddingType: r.str("position_embedding_type", "absolute"),
    seqClassifDropout: 0.1,
    qaDropout: 0.1,
    sinusoidalPosEmbds: false,
  };
}

function distilbertConfig(r: Reader): BertConfig {
  const b = base(r, "distilbert", { vocab: 30522, hidden: 768, layers: 6, heads: 12, act: "gelu", pad: 0, bos: null, eos: null, tie: true });
  return {
    ...b,
    modelType: "distilbert",
    hiddenSize: r.posInt("dim", 768),
    numHiddenLayers: r.posInt("n_layers", 6),
    numAttentionHeads: r.posInt("n_heads", 12),
    hiddenAct: r.str("activation", "gelu"),
    intermediateSize: r.posInt("hidden_dim", 3072),
    hiddenDropoutProb: r.num("dropout", 0.1),
    attentionProbsDropoutProb: r.num("attention_dropout", 0.1),
    maxPositionEmbeddings: r.posInt("max_position_embeddings", 512),
    typeVocabSize: 0,
    layerNormEps: 1e-12,
    classifierDropout: null,
    positionEmbeddingType: "absolute",
    seqClassifDropout: r.num("seq_classif_dropout", 0.2),
    qaDropout: r.num("qa_dropout", 0.1),
    sinusoidalPosEmbds: r.bool("sinusoidal_pos_embds", false),
  };
}

function gpt2Config(r: Reader): GPT2Config {
  const b = base(r, "gpt2", { vocab: 50257, hidden: 768, layers: 12, heads: 12, act: "gelu_new", pad: null, bos: 50256, eos: 50256, tie: true });
  return {
    ...b,
    modelType: "gpt2",
    hiddenSize: r.posInt("n_embd", 768),
    numHiddenLayers: r.posInt("n_layer", 12),
    numAttentionHeads: r.posInt("n_head", 12),
    hiddenAct: r.str("activation_function", "gelu_new"),
    nPositions: r.posInt("n_positions", 1024),
    nInner: r.optInt("n_inner", null),
    residPdrop: r.num("resid_pdrop", 0.1),
    embdPdrop: r.num("embd_pdrop", 0.1),
    attnPdrop: r.num("attn_pdrop", 0.1),
    layerNormEpsilon: r.num("layer_norm_epsilon", 1e-5),
    scaleAttnWeights: r.bool("scale_attn_weights", true),
    scaleAttnByInverseLayerIdx: r.bool("scale_attn_by_inverse_layer_idx", false),
    reorderAndUpcastAttn: r.bool("reorder_and_upcast_attn", false),
  };
}

function readRope(r: Reader, defTheta: number): { ropeTheta: number; ropeScaling: RopeScaling } {
  // transformers 5.x: rope_parameters {rope_theta, rope_type, factor}; 4.x: rope_theta + rope_scaling {type|rope_type, factor}.
  const params = r.object("rope_parameters");
  const scaling = params ?? r.object("rope_scaling");
  let ropeTheta = r.num("rope_theta", defTheta);
  if (params && params.rope_theta !== undefined) {
    if (typeof params.rope_theta !== "number") throw new ConfigError(`${r.source}: field 'rope_parameters.rope_theta' must be a number, got ${JSON.stringify(params.rope_theta)}`);
    ropeTheta = params.rope_theta;
  }
  const where = params ? "rope_parameters" : "rope_scaling";
  const type = scaling ? (scaling.rope_type ?? scaling.type ?? "default") : "default";
  if (type !== "default" && type !== "linear") {
    throw new ConfigError(`${r.source}: ${where}.rope_type ${JSON.stringify(type)} is not supported (supported: default, linear)`);
  }
  let factor = 1;
  if (type === "linear") {
    const f = scaling?.factor;
    if (typeof f !== "number" || !(f > 0)) throw new ConfigError(`${r.source}: field '${where}.factor' must be a positive number for linear rope scaling, got ${JSON.stringify(f)}`);
    factor = f;
  }
  return { ropeTheta, ropeScaling: { ropeType: type, factor } };
}

function llamaConfig(r: Reader, modelType: "llama" | "mistral" | "qwen2"): LlamaConfig {
  const d = {
    llama: { inter: 11008, kv: null as number | null, maxPos: 2048, bos: 1, eos: 2, theta: 10000, vocab: 32000 },
    mistral: { inter: 14336, kv: 8, maxPos: 4096 * 32, bos: 1, eos: 2, theta: 10000, vocab: 32000 },
    qwen2: { inter: 22016, kv: 32, maxPos: 32768, bos: null, eos: null, theta: 10000, vocab: 151936 },
  }[modelType];
  const b = base(r, modelType, { vocab: d.vocab, hidden: 4096, layers: 32, heads: 32, act: "silu", pad: null, bos: d.bos, eos: d.eos, tie: false });
  const heads = b.numAttentionHeads;
  const kv = r.posInt("num_key_value_heads", d.kv ?? heads);
  if (heads % kv !== 0) throw new ConfigError(`${r.source}: num_attention_heads (${heads}) must be a multiple of num_key_value_heads (${kv})`);
  const headDim = r.posInt("head_dim", Math.floor(b.hiddenSize / heads));
  const attentionBias = modelType === "qwen2" ? true : r.bool("attention_bias", false);
  let slidingWindow: number | null = null;
  if (modelType === "mistral") slidingWindow = r.optInt("sliding_window", 4096);
  if (modelType === "qwen2") slidingWindow = r.bool("use_sliding_window", false) ? r.optInt("sliding_window", 4096) : null;
  return {
    ...b,
    modelType,
    intermediateSize: r.posInt("intermediate_size", d.inter),
    numKeyValueHeads: kv,
    headDim,
    maxPositionEmbeddings: r.posInt("max_position_embeddings", d.maxPos),
    rmsNormEps: r.num("rms_norm_eps", 1e-6),
    ...readRope(r, d.theta),
    attentionBias,
    qkvBias: attentionBias,
    oBias: modelType === "qwen2" ? false : attentionBias,
    attentionDropout: r.num("attention_dropout", 0),
    mlpBias: modelType === "llama" ? r.bool("mlp_bias", false) : false,
    slidingWindow,
  };
}

/** Typed config from parsed config.json; `source` names the file in errors. */
export function parseConfig(json: unknown, source = "<config>"): PretrainedConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ConfigError(`${source}: expected a JSON object, got ${Array.isArray(json) ? "an array" : typeof json}`);
  }
  const r = new Reader(json as Json, source);
  const mt = (json as Json).model_type;
  if (typeof mt !== "string") {
    throw new ConfigError(`${source}: field 'model_type' is missing or not a string (supported: ${SUPPORTED_MODEL_TYPES.join(", ")})`);
  }
  switch (mt) {
    case "bert":
    case "roberta":
      return bertConfig(r, mt);
    case "distilbert":
      return distilbertConfig(r);
    case "gpt2":
      return gpt2Config(r);
    case "llama":
    case "mistral":
    case "qwen2":
      return llamaConfig(r, mt);
    default:
      throw new ConfigError(`${source}: model_type '${mt}' is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(", ")})`);
  }
}

async function resolveDir(dirOrId: string): Promise<string> {
  if (existsSync(dirOrId)) return dirOrId;
  return resolveModelDir(dirOrId);
}

/** Resolves a model folder (or hub id through the local cache) to its path. */
export async function resolveModelPath(dirOrId: string): Promise<string> {
  return resolveDir(dirOrId);
}

/** Reads <dir>/config.json (or a config file path). */
export function loadConfigFile(path: string): PretrainedConfig {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, "config.json") : path;
  if (!existsSync(file)) throw new ConfigError(`${file}: config.json not found`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ConfigError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return parseConfig(json, file);
}

export async function loadConfig(dirOrId: string): Promise<PretrainedConfig> {
  return loadConfigFile(await resolveDir(dirOrId));
}

/** Label/problem-type overrides as accepted by fromPretrained (HF kwargs num_labels, id2label, …). */
export interface LabelOptions {
  numLabels?: number;
  id2label?: Record<number, string>;
  label2id?: Record<string, number>;
  problemType?: ProblemType;
}

export function applyLabelOptions<C extends BaseConfig>(config: C, opts: LabelOptions): C {
  const c = { ...config };
  if (opts.problemType !== undefined) {
    if (!PROBLEM_TYPES.includes(opts.problemType)) throw new ConfigError(`problemType must be one of ${PROBLEM_TYPES.join(", ")}, got ${JSON.stringify(opts.problemType)}`);
    c.problemType = opts.problemType;
  }
  if (opts.id2label) {
    c.id2label = { ...opts.id2label };
    c.numLabels = Object.keys(opts.id2label).length;
    c.label2id = opts.label2id ?? Object.fromEntries(Object.entries(opts.id2label).map(([k, v]) => [v, Number(k)]));
  }
  if (opts.numLabels !== undefined) {
    if (!Number.isInteger(opts.numLabels) || opts.numLabels <= 0) throw new ConfigError(`numLabels must be a positive integer, got ${opts.numLabels}`);
    if (opts.id2label && Object.keys(opts.id2label).length !== opts.numLabels) {
      throw new ConfigError(`numLabels (${opts.numLabels}) does not match id2label (${Object.keys(opts.id2label).length} labels)`);
    }
    if (!opts.id2label && opts.numLabels !== c.numLabels) {
      c.numLabels = opts.numLabels;
      c.id2label = defaultId2Label(opts.numLabels);
      c.label2id = Object.fromEntries(Object.entries(c.id2label).map(([k, v]) => [v, Number(k)]));
    }
  }
  if (opts.label2id && !opts.id2label) c.label2id = { ...opts.label2id };
  return c;
}

/** config.json contents in HF spelling: the original JSON with typed changes (labels, architectures) overlaid. */
export function configToJSON(config: PretrainedConfig, architectures?: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config.raw };
  out.model_type = config.modelType;
  if (architectures) out.architectures = architectures;
  const defaultLabels = config.numLabels === 2 && config.id2label[0] === "LABEL_0" && config.id2label[1] === "LABEL_1";
  if (!defaultLabels || out.id2label !== undefined) {
    out.id2label = Object.fromEntries(Object.entries(config.id2label).map(([k, v]) => [String(k), v]));
    out.label2id = { ...config.label2id };
    delete out.num_labels;
  }
  if (config.problemType !== null) out.problem_type = config.problemType;
  const sorted: Record<string, unknown> = {};
  for (const k of Object.keys(out).sort()) sorted[k] = out[k];
  return sorted;
}

export const AutoConfig = {
  fromPretrained: loadConfig,
  /** For a plain object (e.g. built in code) rather than a folder. */
  fromDict: (json: Record<string, unknown>) => parseConfig(json, "<object>"),
};
