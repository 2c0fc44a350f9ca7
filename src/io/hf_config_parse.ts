// config.json → typed config per model family (camelCase inside, HF spelling kept in `raw` for writing back).
// Absent fields get the defaults of the transformers config classes; transformers 4.x and 5.x
// spellings are both read (rope_theta vs rope_parameters, torch_dtype vs dtype).

import { ConfigError } from "../tensor/errors.js";
import { SUPPORTED_MODEL_TYPES } from "./hf_config_types.js";
import type { BartConfig, BertConfig, GPT2Config, LlamaConfig, ModelType, PretrainedConfig, RopeScaling, T5Config } from "./hf_config_types.js";
import { Json, Reader } from "./hf_config_reader.js";
import { readLabels } from "./hf_config_labels.js";
import { checkConfigSizes } from "./hf_config_weights.js";

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
    typeVocabSize: r.count("type_vocab_size", 2),
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
    nInner: r.optPosInt("n_inner", null),
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

/** T5's feed_forward_proj: "ACT" or "gated-ACT" (HF's validate_architecture); gated-gelu means gelu_new. */
function t5FeedForward(r: Reader): { feedForwardProj: string; denseActFn: string; isGatedAct: boolean } {
  const proj = r.str("feed_forward_proj", "relu");
  const parts = proj.split("-");
  if ((parts.length > 1 && parts[0] !== "gated") || parts.length > 2 || parts[parts.length - 1] === "") {
    throw new ConfigError(`${r.source}: field 'feed_forward_proj' must be 'ACT' or 'gated-ACT' (e.g. 'relu', 'gated-gelu'), got ${JSON.stringify(proj)}`);
  }
  return { feedForwardProj: proj, denseActFn: proj === "gated-gelu" ? "gelu_new" : parts[parts.length - 1], isGatedAct: parts[0] === "gated" && parts.length === 2 };
}

function t5Config(r: Reader): T5Config {
  const b = base(r, "t5", { vocab: 32128, hidden: 512, layers: 6, heads: 8, act: "relu", pad: 0, bos: null, eos: 1, tie: true });
  const ff = t5FeedForward(r);
  const numLayers = r.posInt("num_layers", 6);
  // transformers 5 files say tie_word_embeddings true and scale_decoder_outputs false for v1.1; older
  // files (and the hub's v1.1 checkpoints) say tie_word_embeddings false, which also means no rescale
  const tie = r.bool("tie_word_embeddings", true);
  return {
    ...b,
    modelType: "t5",
    hiddenSize: r.posInt("d_model", 512),
    numHiddenLayers: numLayers,
    numAttentionHeads: r.posInt("num_heads", 8),
    hiddenAct: ff.denseActFn,
    tieWordEmbeddings: tie,
    dKv: r.posInt("d_kv", 64),
    dFf: r.posInt("d_ff", 2048),
    numDecoderLayers: r.optPosInt("num_decoder_layers", null) ?? numLayers,
    relativeAttentionNumBuckets: r.posInt("relative_attention_num_buckets", 32),
    relativeAttentionMaxDistance: r.posInt("relative_attention_max_distance", 128),
    dropoutRate: r.num("dropout_rate", 0.1),
    layerNormEpsilon: r.num("layer_norm_epsilon", 1e-6),
    initializerFactor: r.num("initializer_factor", 1),
    ...ff,
    scaleDecoderOutputs: r.bool("scale_decoder_outputs", tie),
    decoderStartTokenId: r.optInt("decoder_start_token_id", null),
    isEncoderDecoder: true,
  };
}

function bartConfig(r: Reader, modelType: "bart" | "marian"): BartConfig {
  const marian = modelType === "marian";
  const d = marian ? { vocab: 58101, pad: 58100, bos: null, eos: 0, start: 58100, forcedEos: 0 } : { vocab: 50265, pad: 1, bos: 0, eos: 2, start: 2, forcedEos: 2 };
  const b = base(r, modelType, { vocab: d.vocab, hidden: 1024, layers: 12, heads: 16, act: "gelu", pad: d.pad, bos: d.bos, eos: d.eos, tie: true });
  const share = marian ? r.bool("share_encoder_decoder_embeddings", true) : true;
  const hidden = r.posInt("d_model", 1024);
  const heads = r.posInt("encoder_attention_heads", 16), decHeads = r.posInt("decoder_attention_heads", 16);
  for (const [k, h] of [["encoder_attention_heads", heads], ["decoder_attention_heads", decHeads]] as const) {
    if (hidden % h !== 0) throw new ConfigError(`${r.source}: d_model (${hidden}) must be a multiple of ${k} (${h})`);
  }
  return {
    ...b,
    modelType,
    hiddenSize: hidden,
    numHiddenLayers: r.posInt("encoder_layers", 12),
    numAttentionHeads: heads,
    hiddenAct: r.str("activation_function", "gelu"),
    initializerRange: r.num("init_std", 0.02),
    decoderLayers: r.posInt("decoder_layers", 12),
    decoderAttentionHeads: decHeads,
    encoderFfnDim: r.posInt("encoder_ffn_dim", 4096),
    decoderFfnDim: r.posInt("decoder_ffn_dim", 4096),
    maxPositionEmbeddings: r.posInt("max_position_embeddings", 1024),
    dropout: r.num("dropout", 0.1),
    attentionDropout: r.num("attention_dropout", 0),
    activationDropout: r.num("activation_dropout", 0),
    scaleEmbedding: r.bool("scale_embedding", false),
    decoderStartTokenId: r.optInt("decoder_start_token_id", "decoder_start_token_id" in r.json ? null : d.start),
    forcedBosTokenId: r.optInt("forced_bos_token_id", null),
    forcedEosTokenId: r.optInt("forced_eos_token_id", "forced_eos_token_id" in r.json ? null : d.forcedEos),
    shareEncoderDecoderEmbeddings: share,
    decoderVocabSize: marian && !share ? r.optPosInt("decoder_vocab_size", null) ?? b.vocabSize : b.vocabSize,
    isEncoderDecoder: true,
  };
}

/** Typed config from parsed config.json; `source` names the file in errors. */
export function parseConfig(json: unknown, source = "<config>"): PretrainedConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ConfigError(`${source}: expected a JSON object, got ${Array.isArray(json) ? "an array" : typeof json}`);
  }
  const r = new Reader(json as Json, source);
  const config = parseByType(json as Json, r, source);
  checkConfigSizes(config);
  return config;
}

function parseByType(json: Json, r: Reader, source: string): PretrainedConfig {
  const mt = json.model_type;
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
    case "t5":
      return t5Config(r);
    case "bart":
    case "marian":
      return bartConfig(r, mt);
    default:
      throw new ConfigError(`${source}: model_type '${mt}' is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(", ")})`);
  }
}
