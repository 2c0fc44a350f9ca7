// Typed Hugging Face configs: the supported model types and one config interface per model family.

export const SUPPORTED_MODEL_TYPES = ["bert", "roberta", "distilbert", "gpt2", "llama", "mistral", "qwen2", "t5", "bart", "marian"] as const;
export type ModelType = (typeof SUPPORTED_MODEL_TYPES)[number];
export type ProblemType = "regression" | "single_label_classification" | "multi_label_classification";

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

/**
 * T5 (original and v1.1): d_model, num_layers and num_heads are mapped onto hiddenSize,
 * numHiddenLayers and numAttentionHeads (HF's attribute_map); the rest keeps T5's own fields.
 */
export interface T5Config extends BaseConfig {
  modelType: "t5";
  dKv: number;
  dFf: number;
  /** Decoder layers (num_decoder_layers, default num_layers). */
  numDecoderLayers: number;
  relativeAttentionNumBuckets: number;
  relativeAttentionMaxDistance: number;
  dropoutRate: number;
  layerNormEpsilon: number;
  initializerFactor: number;
  /** "relu", "gated-gelu", "gated-silu", … as in the file. */
  feedForwardProj: string;
  /** The FF activation (HF's dense_act_fn: gated-gelu means gelu_new). */
  denseActFn: string;
  isGatedAct: boolean;
  /** The decoder output is multiplied by d_model^-0.5 before the head (original T5; not v1.1). */
  scaleDecoderOutputs: boolean;
  decoderStartTokenId: number | null;
  isEncoderDecoder: true;
}

/**
 * BART and Marian (post-LN encoder–decoders with biased attention): d_model, encoder_layers and
 * encoder_attention_heads are mapped onto hiddenSize, numHiddenLayers and numAttentionHeads.
 */
export interface BartConfig extends BaseConfig {
  modelType: "bart" | "marian";
  decoderLayers: number;
  decoderAttentionHeads: number;
  encoderFfnDim: number;
  decoderFfnDim: number;
  maxPositionEmbeddings: number;
  dropout: number;
  attentionDropout: number;
  activationDropout: number;
  /** Token embeddings × √d_model. */
  scaleEmbedding: boolean;
  decoderStartTokenId: number | null;
  forcedBosTokenId: number | null;
  forcedEosTokenId: number | null;
  /** Marian: one embedding for encoder, decoder and head (true), or the encoder's and the decoder's own. */
  shareEncoderDecoderEmbeddings: boolean;
  /** Marian: the decoder's (and head's) vocabulary when embeddings are not shared. */
  decoderVocabSize: number;
  isEncoderDecoder: true;
}

export type PretrainedConfig = BertConfig | GPT2Config | LlamaConfig | T5Config | BartConfig;
