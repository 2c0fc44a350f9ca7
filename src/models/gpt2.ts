// GPT-2 (pre-LN decoder with Conv1D projections) with HF's module names, LM and classification heads.

import { Tensor } from "../tensor/tensor.js";
import { ConfigError } from "../tensor/errors.js";
import { globalRng, Rng } from "../tensor/random.js";
import { Module, ModuleList } from "../nn/module.js";
import { Dropout, Embedding, LayerNorm, forwardAct } from "../nn/layers.js";
import { Conv1D } from "../nn/conv1d.js";
import { activation, fusedActivation } from "../nn/activations.js";
import { attention, mergeHeads, splitHeads } from "../nn/attention.js";
import { withPast, type KeyValue } from "../nn/kv_cache.js";
import { runLayerStack } from "../nn/layer_stack.js";
import { gatherRows, queryRows, type QueryRows } from "../nn/query_rows.js";
import * as ops from "../ops/index.js";
import type { BiasActOp } from "../ops/index.js";
import type { GPT2Config, PretrainedConfig } from "../io/hf_config.js";
import { PreTrainedModel, type ModelInputs, type ModelOutput } from "./modeling_utils.js";
import { checkPositions, intTensor, keyMaskOf, toIntBatch, tokenInputs } from "./inputs.js";
import { CausalLMModel, constructionRng, LastTokenClassificationModel, type HeadSpec } from "./head_models.js";

function checkGpt2(config: PretrainedConfig, cls: string): GPT2Config {
  if (config.modelType !== "gpt2") throw new ConfigError(`${config.source}: ${cls} needs model_type gpt2, got '${config.modelType}'`);
  return config as GPT2Config;
}

export class GPT2Attention extends Module {
  declare c_attn: Conv1D;
  declare c_proj: Conv1D;
  declare attn_dropout: Dropout;
  declare resid_dropout: Dropout;
  readonly heads: number;
  readonly headDim: number;
  readonly scale: number;
  constructor(readonly config: GPT2Config, readonly layerIdx: number) {
    super();
    const E = config.hiddenSize;
    this.heads = config.numAttentionHeads;
    this.headDim = E / this.heads;
    if (!Number.isInteger(this.headDim)) throw new ConfigError(`${config.source}: n_embd ${E} is not a multiple of n_head ${this.heads}`);
    let scale = config.scaleAttnWeights ? 1 / Math.sqrt(this.headDim) : 1;
    if (config.scaleAttnByInverseLayerIdx) scale /= layerIdx + 1;
    this.scale = scale;
    const rng = constructionRng();
    this.registerModule("c_attn", new Conv1D(3 * E, E, { rng }));
    this.registerModule("c_proj", new Conv1D(E, E, { rng }));
    this.registerModule("attn_dropout", new Dropout(config.attnPdrop));
    this.registerModule("resid_dropout", new Dropout(config.residPdrop));
  }
  /** rows: queries at one position per batch row only (keys/values from every position). */
  forward(x: Tensor, keyMask: Tensor | null, past: KeyValue | undefined, rows?: QueryRows): { out: Tensor; kv: KeyValue } {
    const E = this.config.hiddenSize;
    // c_attn makes q, k and v in one GEMM: the query rows are picked after it
    const [qf, kf, vf] = ops.split(this.c_attn.forward(x), E, -1);
    const [q, k, v] = [rows ? gatherRows(qf, rows.idx) : qf, kf, vf].map((t) => splitHeads(t, this.heads, this.headDim));
    const kv = withPast(past, k, v);
    const ctx = attention(q, kv.key, kv.value, {
      keyMask: rows ? rows.keyMask : keyMask, causal: !rows, scale: this.scale, dropoutP: this.attn_dropout.p, training: this.training,
    });
    return { out: this.resid_dropout.forward(this.c_proj.forward(mergeHeads(ctx))), kv };
  }
}

export class GPT2MLP extends Module {
  declare c_fc: Conv1D;
  declare c_proj: Conv1D;
  declare dropout: Dropout;
  private readonly act: (x: Tensor) => Tensor;
  /** The activation as a fused bias kernel op (null: no fused kernel for it). */
  private readonly fusedAct: BiasActOp | null;
  constructor(config: GPT2Config) {
    super();
    const inner = config.nInner ?? 4 * config.hiddenSize;
    const rng = constructionRng();
    this.registerModule("c_fc", new Conv1D(inner, config.hiddenSize, { rng }));
    this.registerModule("c_proj", new Conv1D(config.hiddenSize, inner, { rng }));
    this.registerModule("dropout", new Dropout(config.residPdrop));
    this.act = activation(config.hiddenAct);
    this.fusedAct = fusedActivation(config.hiddenAct);
  }
  forward(x: Tensor): Tensor {
    // c_fc → act with the bias add and activation in one pass (through adapters wrapping c_fc too)
    const h = this.fusedAct ? forwardAct(this.c_fc, x, this.fusedAct) : this.act(this.c_fc.forward(x));
    return this.dropout.forward(this.c_proj.forward(h));
  }
}

export class GPT2Block extends Module {
  declare ln_1: LayerNorm;
  declare attn: GPT2Attention;
  declare ln_2: LayerNorm;
  declare mlp: GPT2MLP;
  constructor(config: GPT2Config, layerIdx: number) {
    super();
    this.registerModule("ln_1", new LayerNorm(config.hiddenSize, config.layerNormEpsilon));
    this.registerModule("attn", new GPT2Attention(config, layerIdx));
    this.registerModule("ln_2", new LayerNorm(config.hiddenSize, config.layerNormEpsilon));
    this.registerModule("mlp", new GPT2MLP(config));
  }
  /** rows: the output holds one position per batch row ([B, 1, H]); see ModelInputs.queryPositions. */
  forward(x: Tensor, keyMask: Tensor | null, past: KeyValue | undefined, rows?: QueryRows): { out: Tensor; kv: KeyValue } {
    const a = this.attn.forward(this.ln_1.forward(x), keyMask, past, rows);
    const h = ops.add(rows ? gatherRows(x, rows.idx) : x, a.out);
    return { out: ops.add(h, this.mlp.forward(this.ln_2.forward(h))), kv: a.kv };
  }
}

/** HF GPT-2 init: as the base rule, plus c_proj weights with std initializer_range/√(2·n_layer). */
function initGpt2(model: PreTrainedModel, m: Module, rng: Rng): void {
  const std = model.config.initializerRange / Math.sqrt(2 * model.config.numHiddenLayers);
  for (const [path, sub] of m.namedModules()) {
    if (sub instanceof Conv1D && (path === "c_proj" || path.endsWith(".c_proj"))) rng.fillNormal(sub.weight.data, 0, std);
  }
}

export class GPT2Model extends PreTrainedModel {
  declare config: GPT2Config;
  declare wte: Embedding;
  declare wpe: Embedding;
  declare drop: Dropout;
  declare h: ModuleList<GPT2Block>;
  declare ln_f: LayerNorm;
  readonly baseModelPrefix = "transformer";
  constructor(config: PretrainedConfig) {
    super(checkGpt2(config, "GPT2Model"));
    const c = this.config;
    const rng = constructionRng();
    this.registerModule("wte", new Embedding(c.vocabSize, c.hiddenSize, { rng }));
    this.registerModule("wpe", new Embedding(c.nPositions, c.hiddenSize, { rng }));
    this.registerModule("drop", new Dropout(c.embdPdrop));
    this.registerModule("h", new ModuleList(Array.from({ length: c.numHiddenLayers }, (_, i) => new GPT2Block(c, i))));
    this.registerModule("ln_f", new LayerNorm(c.hiddenSize, c.layerNormEpsilon));
  }
  override get architectureName(): string {
    return "GPT2Model";
  }
  getInputEmbeddings(): Embedding {
    return this.wte;
  }
  override initModule(m: Module, rng: Rng = globalRng): void {
    super.initModule(m, rng);
    initGpt2(this, m, rng);
  }
  forward(inputs: ModelInputs): ModelOutput {
    const { ids, embeds, B, T, past, P } = tokenInputs(inputs, this.h.length);
    let pos = inputs.positionIds !== undefined ? toIntBatch(inputs.positionIds, "positionIds") : null;
    if (!pos) {
      const d = new Int32Array(B * T);
      for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) d[b * T + t] = P + t;
      pos = { data: d, shape: [B, T] };
    } else if (pos.shape[0] === 1 && B > 1) {
      const d = new Int32Array(B * T);
      for (let b = 0; b < B; b++) d.set(pos.data, b * T);
      pos = { data: d, shape: [B, T] };
    }
    checkPositions(pos.data, this.config.nPositions, "n_positions");
    const keyMask = keyMaskOf(inputs, B, T, P);
    let h = ops.add(embeds ?? this.wte.forward(intTensor(ids!)), this.wpe.forward(intTensor(pos)));
    if (inputs.tokenTypeIds !== undefined) h = ops.add(h, this.wte.forward(intTensor(toIntBatch(inputs.tokenTypeIds, "tokenTypeIds"))));
    h = this.drop.forward(h);
    const rows = queryRows(inputs, keyMask, B, T, P) ?? undefined;
    const last = this.h.length - 1;
    return runLayerStack(this.h, h, past, inputs, (block, x, kv, i) => block.forward(x, keyMask, kv, i === last ? rows : undefined), (x) => this.ln_f.forward(x));
  }
}

/** A GPT-2 head model's base: the GPT2Model under "transformer", with GPT-2's init. */
function gpt2Head(config: PretrainedConfig, cls: string): HeadSpec<GPT2Model> {
  return { config: checkGpt2(config, cls), prefix: "transformer", base: new GPT2Model(config), init: initGpt2, architecture: cls };
}

export class GPT2LMHeadModel extends CausalLMModel<GPT2Model> {
  declare config: GPT2Config;
  declare transformer: GPT2Model;
  constructor(config: PretrainedConfig) {
    super(gpt2Head(config, "GPT2LMHeadModel"));
  }
}

export class GPT2ForSequenceClassification extends LastTokenClassificationModel<GPT2Model> {
  declare config: GPT2Config;
  declare transformer: GPT2Model;
  constructor(config: PretrainedConfig) {
    super(gpt2Head(config, "GPT2ForSequenceClassification"));
  }
}
