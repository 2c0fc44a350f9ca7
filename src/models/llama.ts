// The Llama family in one file: Llama, Mistral and Qwen2 are config switches (GQA, rope theta and
// linear scaling, q/k/v/o and MLP biases, tied or untied lm_head). Mistral's sliding window is not
// applied: it only changes results for sequences longer than the window (4096 by default).

import { Tensor } from "../tensor/tensor.js";
import { ConfigError, ShapeError } from "../tensor/errors.js";
import { Module, ModuleList } from "../nn/module.js";
import { Embedding, Linear, RMSNorm } from "../nn/layers.js";
import { activation } from "../nn/activations.js";
import { attention, mergeHeads, splitHeads } from "../nn/attention.js";
import { withPast, type KeyValue } from "../nn/kv_cache.js";
import { runLayerStack } from "../nn/layer_stack.js";
import { gatherRows, queryRows, type QueryRows } from "../nn/query_rows.js";
import * as ops from "../ops/index.js";
import { copyToParallel } from "../ops/parallel.js";
import type { ProcessGroup } from "../dist/process_group.js";
import type { LlamaConfig, PretrainedConfig } from "../io/hf_config.js";
import { PreTrainedModel, type ModelInputs, type ModelOutput } from "./modeling_utils.js";
import { intTensor, keyMaskOf, toIntBatch, tokenInputs, type IntBatch } from "./inputs.js";
import { CausalLMModel, constructionRng, LastTokenClassificationModel, type HeadSpec } from "./head_models.js";

function checkLlama(config: PretrainedConfig, cls: string): LlamaConfig {
  if (config.modelType !== "llama" && config.modelType !== "mistral" && config.modelType !== "qwen2") {
    throw new ConfigError(`${config.source}: ${cls} needs model_type llama, mistral or qwen2, got '${config.modelType}'`);
  }
  return config as LlamaConfig;
}

type Rope = { cos: Tensor; sin: Tensor };
/** The last layer's query rows with their rotary tables. */
type LlamaRows = QueryRows & { rope: Rope };

function family(config: LlamaConfig): string {
  return { llama: "Llama", mistral: "Mistral", qwen2: "Qwen2" }[config.modelType];
}

/** cos/sin for each row's positions: [T, D] when all rows share positions, else [B, T, D]. */
export function rotaryForPositions(pos: IntBatch, config: LlamaConfig): { cos: Tensor; sin: Tensor } {
  const [B, T] = pos.shape;
  const D = config.headDim;
  const factor = config.ropeScaling.ropeType === "linear" ? config.ropeScaling.factor : 1;
  const row = (b: number) => Array.from(pos.data.subarray(b * T, (b + 1) * T));
  let same = true;
  for (let b = 1; b < B && same; b++) for (let t = 0; t < T; t++) if (pos.data[b * T + t] !== pos.data[t]) { same = false; break; }
  if (same) return ops.rotaryTables(row(0), D, config.ropeTheta, factor);
  const cos = new Float32Array(B * T * D), sin = new Float32Array(B * T * D);
  for (let b = 0; b < B; b++) {
    const r = ops.rotaryTables(row(b), D, config.ropeTheta, factor);
    cos.set(r.cos.f32(), b * T * D);
    sin.set(r.sin.f32(), b * T * D);
  }
  return { cos: new Tensor(cos, [B, T, D]), sin: new Tensor(sin, [B, T, D]) };
}

export class LlamaAttention extends Module {
  declare q_proj: Linear;
  declare k_proj: Linear;
  declare v_proj: Linear;
  declare o_proj: Linear;
  /** Query and key/value heads computed here (this rank's share under tensor parallelism). */
  numHeads: number;
  numKeyValueHeads: number;
  /** Set by parallelizeModel: the input enters the tensor-parallel region once for q, k and v. */
  tpGroup: ProcessGroup | null = null;
  constructor(readonly config: LlamaConfig) {
    super();
    this.numHeads = config.numAttentionHeads;
    this.numKeyValueHeads = config.numKeyValueHeads;
    const rng = constructionRng();
    const { hiddenSize: E, numAttentionHeads: H, numKeyValueHeads: Hkv, headDim: D } = config;
    this.registerModule("q_proj", new Linear(E, H * D, { bias: config.qkvBias, rng }));
    this.registerModule("k_proj", new Linear(E, Hkv * D, { bias: config.qkvBias, rng }));
    this.registerModule("v_proj", new Linear(E, Hkv * D, { bias: config.qkvBias, rng }));
    this.registerModule("o_proj", new Linear(H * D, E, { bias: config.oBias, rng }));
  }
  /** rows: queries at one position per batch row only (keys/values from every position). */
  forward(x: Tensor, rope: Rope, keyMask: Tensor | null, past: KeyValue | undefined, rows?: LlamaRows): { out: Tensor; kv: KeyValue } {
    const { numHeads: H, numKeyValueHeads: Hkv } = this, D = this.config.headDim;
    if (this.tpGroup) x = copyToParallel(x, this.tpGroup);
    const qRope = rows ? rows.rope : rope;
    const q = ops.applyRotary(splitHeads(this.q_proj.forward(rows ? gatherRows(x, rows.idx) : x), H, D), qRope.cos, qRope.sin);
    const k = ops.applyRotary(splitHeads(this.k_proj.forward(x), Hkv, D), rope.cos, rope.sin);
    const v = splitHeads(this.v_proj.forward(x), Hkv, D);
    const kv = withPast(past, k, v);
    const ctx = attention(q, kv.key, kv.value, {
      keyMask: rows ? rows.keyMask : keyMask, causal: !rows, scale: 1 / Math.sqrt(D), dropoutP: this.config.attentionDropout, training: this.training,
    });
    return { out: this.o_proj.forward(mergeHeads(ctx)), kv };
  }
}

export class LlamaMLP extends Module {
  declare gate_proj: Linear;
  declare up_proj: Linear;
  declare down_proj: Linear;
  private readonly act: (x: Tensor) => Tensor;
  private readonly fusedSilu: boolean;
  /** Set by parallelizeModel: the input enters the tensor-parallel region once for gate and up. */
  tpGroup: ProcessGroup | null = null;
  constructor(config: LlamaConfig) {
    super();
    const rng = constructionRng();
    const bias = config.mlpBias;
    this.registerModule("gate_proj", new Linear(config.hiddenSize, config.intermediateSize, { bias, rng }));
    this.registerModule("up_proj", new Linear(config.hiddenSize, config.intermediateSize, { bias, rng }));
    this.registerModule("down_proj", new Linear(config.intermediateSize, config.hiddenSize, { bias, rng }));
    this.act = activation(config.hiddenAct);
    this.fusedSilu = config.hiddenAct === "silu" || config.hiddenAct === "swish";
  }
  forward(x: Tensor): Tensor {
    if (this.tpGroup) x = copyToParallel(x, this.tpGroup);
    const gate = this.gate_proj.forward(x), up = this.up_proj.forward(x);
    // silu (every Llama/Mistral/Qwen2 config here) takes the fused SwiGLU op: one pass, one buffer fewer kept
    const h = this.fusedSilu ? ops.siluMul(gate, up) : ops.mul(this.act(gate), up);
    return this.down_proj.forward(h);
  }
}

export class LlamaDecoderLayer extends Module {
  declare self_attn: LlamaAttention;
  declare mlp: LlamaMLP;
  declare input_layernorm: RMSNorm;
  declare post_attention_layernorm: RMSNorm;
  constructor(config: LlamaConfig) {
    super();
    this.registerModule("self_attn", new LlamaAttention(config));
    this.registerModule("mlp", new LlamaMLP(config));
    this.registerModule("input_layernorm", new RMSNorm(config.hiddenSize, config.rmsNormEps));
    this.registerModule("post_attention_layernorm", new RMSNorm(config.hiddenSize, config.rmsNormEps));
  }
  /** rows: the output holds one position per batch row ([B, 1, H]); see ModelInputs.queryPositions. */
  forward(x: Tensor, rope: Rope, keyMask: Tensor | null, past: KeyValue | undefined, rows?: LlamaRows): { out: Tensor; kv: KeyValue } {
    const a = this.self_attn.forward(this.input_layernorm.forward(x), rope, keyMask, past, rows);
    const h = ops.add(rows ? gatherRows(x, rows.idx) : x, a.out);
    return { out: ops.add(h, this.mlp.forward(this.post_attention_layernorm.forward(h))), kv: a.kv };
  }
}

export class LlamaModel extends PreTrainedModel {
  declare config: LlamaConfig;
  declare embed_tokens: Embedding;
  declare layers: ModuleList<LlamaDecoderLayer>;
  declare norm: RMSNorm;
  readonly baseModelPrefix = "model";
  constructor(config: PretrainedConfig) {
    super(checkLlama(config, "LlamaModel"));
    const c = this.config;
    this.registerModule("embed_tokens", new Embedding(c.vocabSize, c.hiddenSize, { rng: constructionRng() }));
    this.registerModule("layers", new ModuleList(Array.from({ length: c.numHiddenLayers }, () => new LlamaDecoderLayer(c))));
    this.registerModule("norm", new RMSNorm(c.hiddenSize, c.rmsNormEps));
  }
  override get architectureName(): string {
    return `${family(this.config)}Model`;
  }
  getInputEmbeddings(): Embedding {
    return this.embed_tokens;
  }
  forward(inputs: ModelInputs): ModelOutput {
    const { ids, embeds, B, T, past, P } = tokenInputs(inputs, this.layers.length);
    let pos = inputs.positionIds !== undefined ? toIntBatch(inputs.positionIds, "positionIds") : null;
    if (!pos) {
      const d = new Int32Array(T);
      for (let t = 0; t < T; t++) d[t] = P + t;
      pos = { data: d, shape: [1, T] };
    }
    if (pos.shape[1] !== T || (pos.shape[0] !== 1 && pos.shape[0] !== B)) throw new ShapeError(`positionIds of shape [${pos.shape}] do not fit inputs [${B}, ${T}]`);
    const rope = rotaryForPositions(pos, this.config);
    const keyMask = keyMaskOf(inputs, B, T, P);
    const h = embeds ?? this.embed_tokens.forward(intTensor(ids!));
    const qr = queryRows(inputs, keyMask, B, T, P);
    let rows: LlamaRows | undefined;
    if (qr) {
      // each query row's own position for its rotary embedding
      const qpos = new Int32Array(B);
      for (let b = 0; b < B; b++) qpos[b] = pos.data[(pos.shape[0] === 1 ? 0 : b) * T + qr.idx[b]];
      rows = { ...qr, rope: rotaryForPositions({ data: qpos, shape: [B, 1] }, this.config) };
    }
    const last = this.layers.length - 1;
    return runLayerStack(this.layers, h, past, inputs, (layer, x, kv, i) => layer.forward(x, rope, keyMask, kv, i === last ? rows : undefined), (x) => this.norm.forward(x));
  }
}

/** A Llama-family head model's base: the LlamaModel under "model"; head "ForCausalLM" names LlamaForCausalLM, MistralForCausalLM, …. */
function llamaHead(config: PretrainedConfig, head: string): HeadSpec<LlamaModel> {
  const c = checkLlama(config, `Llama${head}`);
  return { config: c, prefix: "model", base: new LlamaModel(config), architecture: `${family(c)}${head}` };
}

export class LlamaForCausalLM extends CausalLMModel<LlamaModel> {
  declare config: LlamaConfig;
  declare model: LlamaModel;
  constructor(config: PretrainedConfig) {
    super(llamaHead(config, "ForCausalLM"));
  }
}

export class LlamaForSequenceClassification extends LastTokenClassificationModel<LlamaModel> {
  declare config: LlamaConfig;
  declare model: LlamaModel;
  constructor(config: PretrainedConfig) {
    super(llamaHead(config, "ForSequenceClassification"));
  }
}
