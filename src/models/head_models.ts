// Task-head models shared by the families: the base model under its prefix ("transformer", "model",
// "bert", …) plus a head with HF's parameter names. A family's head class gives its base model, its
// architecture name and any init rule of its own; the heads themselves are written once here.

import { Tensor } from "../tensor/tensor.js";
import { Rng, globalRng } from "../tensor/random.js";
import type { Module } from "../nn/module.js";
import { Dropout, Embedding, Linear } from "../nn/layers.js";
import * as ops from "../ops/index.js";
import type { PretrainedConfig } from "../io/hf_config.js";
import { PreTrainedModel, type ModelInputs, type ModelOutput } from "./modeling_utils.js";
import {
  causalLMOutput, encoderHeadOutput, lastTokenClassificationOutput, questionAnsweringLoss, sequenceClassificationLoss,
  tokenClassificationLoss,
} from "./heads.js";
import { generate, GenerateOptions } from "./generate.js";

/** Construction draws from a private generator: weights are overwritten by loading or initWeights(). */
export const constructionRng = () => new Rng(0);

/** What a head model is built on. */
export interface HeadSpec<B extends PreTrainedModel> {
  /** The (checked) config. */
  config: PretrainedConfig;
  /** Attribute holding the base model. */
  prefix: string;
  base: B;
  /** The family's init rule, applied after the base rule (GPT-2: scaled c_proj weights). */
  init?: (model: PreTrainedModel, m: Module, rng: Rng) => void;
  /** Checkpoint keys skipped with a notice besides the usual other-task heads (e.g. an unused pooler). */
  tolerable?: RegExp[];
  /** The HF class name for config.json "architectures" (default: the class's name). */
  architecture?: string;
}

export abstract class HeadModel<B extends PreTrainedModel = PreTrainedModel> extends PreTrainedModel {
  readonly baseModelPrefix: string;
  private readonly familyInit: HeadSpec<B>["init"];
  private readonly extraTolerable: RegExp[];
  private readonly architecture: string | undefined;
  constructor(spec: HeadSpec<B>) {
    super(spec.config);
    this.baseModelPrefix = spec.prefix;
    this.familyInit = spec.init;
    this.extraTolerable = spec.tolerable ?? [];
    this.architecture = spec.architecture;
    this.registerModule(spec.prefix, spec.base);
  }
  override get architectureName(): string {
    return this.architecture ?? super.architectureName;
  }
  /** The base model (under baseModelPrefix). */
  get base(): B {
    return this.getSubmodule(this.baseModelPrefix) as B;
  }
  getInputEmbeddings(): Embedding {
    return this.base.getInputEmbeddings();
  }
  override initModule(m: Module, rng: Rng = globalRng): void {
    super.initModule(m, rng);
    this.familyInit?.(this, m, rng);
  }
  override tolerableUnexpected(): RegExp[] {
    return [...super.tolerableUnexpected(), ...this.extraTolerable];
  }
  /** The base model's forward without the head's labels. */
  protected runBase(inputs: ModelInputs): ModelOutput {
    const { labels, startPositions, endPositions, ...rest } = inputs;
    return this.base.forward(rest);
  }
  /** Full name of the input embedding weight ("transformer.wte.weight"), for tying an output projection to it. */
  protected inputEmbeddingName(): string {
    const emb = this.getInputEmbeddings();
    const found = this.namedModules().find(([, m]) => m === emb);
    if (!found) throw new Error(`${this.architectureName}: input embeddings are not a submodule`);
    return `${found[0]}.weight`;
  }
}

/** Causal LM: lm_head (no bias) over the base model's last hidden states, tied to the input embeddings when the config says so. */
export abstract class CausalLMModel<B extends PreTrainedModel> extends HeadModel<B> {
  declare lm_head: Linear;
  override readonly newHeadModules = ["lm_head"];
  private readonly embeddingName: string;
  constructor(spec: HeadSpec<B>) {
    super(spec);
    this.embeddingName = this.inputEmbeddingName();
    this.registerModule("lm_head", new Linear(this.config.hiddenSize, this.config.vocabSize, { bias: false, rng: constructionRng() }));
    this.tieWeights();
  }
  override tiedWeights(): Record<string, string> {
    return this.config.tieWordEmbeddings ? { "lm_head.weight": this.embeddingName } : {};
  }
  forward(inputs: ModelInputs): ModelOutput {
    return causalLMOutput(this.runBase(inputs), this.lm_head, inputs.labels, inputs.keepLogits, inputs.logitsToKeep);
  }
  generate(inputIds: number[][] | number[] | Tensor, opts: GenerateOptions = {}): number[][] {
    return generate(this, inputIds, opts);
  }
}

/** Decoder sequence classification: score (no bias) at each row's last non-pad token. */
export abstract class LastTokenClassificationModel<B extends PreTrainedModel> extends HeadModel<B> {
  declare score: Linear;
  override readonly newHeadModules = ["score"];
  constructor(spec: HeadSpec<B>) {
    super(spec);
    this.registerModule("score", new Linear(this.config.hiddenSize, this.config.numLabels, { bias: false, rng: constructionRng() }));
  }
  forward(inputs: ModelInputs): ModelOutput {
    return lastTokenClassificationOutput((rows) => this.runBase({ ...inputs, queryPositions: rows }), inputs, this.score, this.config);
  }
}

/**
 * Encoder sequence classification: logits from the first token (or the pooler over it), so the base
 * model's last layer computes position 0 only. `logitsOf` is the family's classifier.
 */
export abstract class FirstTokenClassificationModel<B extends PreTrainedModel> extends HeadModel<B> {
  protected abstract logitsOf(base: ModelOutput): Tensor;
  forward(inputs: ModelInputs): ModelOutput {
    const o = this.runBase({ ...inputs, firstTokenOnly: true });
    const logits = this.logitsOf(o);
    const out = encoderHeadOutput(o, { logits }, true);
    if (inputs.labels !== undefined) out.loss = sequenceClassificationLoss(logits, inputs.labels, this.config);
    return out;
  }
}

/** Token classification: dropout → classifier at every position. */
export abstract class TokenClassificationModel<B extends PreTrainedModel> extends HeadModel<B> {
  declare dropout: Dropout;
  declare classifier: Linear;
  override readonly newHeadModules = ["classifier"];
  constructor(spec: HeadSpec<B>, dropoutP: number) {
    super(spec);
    this.registerModule("dropout", new Dropout(dropoutP));
    this.registerModule("classifier", new Linear(this.config.hiddenSize, this.config.numLabels, { rng: constructionRng() }));
  }
  forward(inputs: ModelInputs): ModelOutput {
    const o = this.runBase(inputs);
    const logits = this.classifier.forward(this.dropout.forward(o.lastHiddenState!));
    const out = encoderHeadOutput(o, { logits });
    if (inputs.labels !== undefined) out.loss = tokenClassificationLoss(logits, inputs.labels);
    return out;
  }
}

/** Extractive QA: qa_outputs (2 logits a position: start, end), after a dropout where the family has one. */
export abstract class QuestionAnsweringModel<B extends PreTrainedModel> extends HeadModel<B> {
  declare qa_outputs: Linear;
  declare dropout: Dropout | undefined;
  override readonly newHeadModules = ["qa_outputs"];
  constructor(spec: HeadSpec<B>, dropoutP?: number) {
    super(spec);
    this.registerModule("qa_outputs", new Linear(this.config.hiddenSize, 2, { rng: constructionRng() }));
    if (dropoutP !== undefined) this.registerModule("dropout", new Dropout(dropoutP));
  }
  forward(inputs: ModelInputs): ModelOutput {
    const o = this.runBase(inputs);
    const h = this.dropout ? this.dropout.forward(o.lastHiddenState!) : o.lastHiddenState!;
    const [startLogits, endLogits] = ops.split(this.qa_outputs.forward(h), 1, -1).map((t) => t.squeeze(-1).contiguous());
    const out = encoderHeadOutput(o, { startLogits, endLogits });
    if (inputs.startPositions !== undefined && inputs.endPositions !== undefined) {
      out.loss = questionAnsweringLoss(startLogits, endLogits, inputs.startPositions, inputs.endPositions);
    }
    return out;
  }
}
