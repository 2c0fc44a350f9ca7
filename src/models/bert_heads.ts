// BERT and RoBERTa task heads with HF's module names (the encoder is in bert.ts): sequence
// classification (BERT's pooler + classifier, RoBERTa's classification head), token classification,
// question answering and masked LM.

import { Tensor } from "../tensor/tensor.js";
import { Module } from "../nn/module.js";
import { Dropout, LayerNorm, Linear } from "../nn/layers.js";
import { activation } from "../nn/activations.js";
import * as ops from "../ops/index.js";
import type { BertConfig } from "../io/hf_config.js";
import type { ModelInputs, ModelOutput } from "./modeling_utils.js";
import { encoderHeadOutput, tokenClassificationLoss } from "./heads.js";
import {
  constructionRng, FirstTokenClassificationModel, HeadModel, QuestionAnsweringModel, TokenClassificationModel, type HeadSpec,
} from "./head_models.js";
import { BertModel, checkFamily, familyName, prefixOf } from "./bert.js";

/** A BERT/RoBERTa head model's base: the encoder under "bert"/"roberta" (an unused pooler in a checkpoint is skipped with a notice). */
function bertHead(config: BertConfig, head: string, addPoolingLayer: boolean): HeadSpec<BertModel> {
  checkFamily(config, `Bert${head}`);
  const prefix = prefixOf(config);
  const tolerable = addPoolingLayer ? [] : [new RegExp(`^${prefix}\\.pooler\\.`)];
  return { config, prefix, base: new BertModel(config, { addPoolingLayer }), tolerable, architecture: `${familyName(config)}${head}` };
}

/** RobertaClassificationHead: dropout → dense → tanh → dropout → out_proj on the first token. */
export class RobertaClassificationHead extends Module {
  declare dense: Linear;
  declare dropout: Dropout;
  declare out_proj: Linear;
  constructor(config: BertConfig) {
    super();
    const rng = constructionRng();
    this.registerModule("dense", new Linear(config.hiddenSize, config.hiddenSize, { rng }));
    this.registerModule("dropout", new Dropout(config.classifierDropout ?? config.hiddenDropoutProb));
    this.registerModule("out_proj", new Linear(config.hiddenSize, config.numLabels, { rng }));
  }
  forward(hidden: Tensor): Tensor {
    let x = this.dropout.forward(hidden.select(1, 0));
    x = this.dropout.forward(ops.tanh(this.dense.forward(x)));
    return this.out_proj.forward(x);
  }
}

export class BertForSequenceClassification extends FirstTokenClassificationModel<BertModel> {
  declare config: BertConfig;
  declare dropout: Dropout;
  declare classifier: Linear | RobertaClassificationHead;
  override readonly newHeadModules = ["classifier"];
  constructor(config: BertConfig) {
    super(bertHead(config, "ForSequenceClassification", config.modelType !== "roberta"));
    this.registerModule("dropout", new Dropout(config.classifierDropout ?? config.hiddenDropoutProb));
    this.registerModule("classifier", config.modelType === "roberta"
      ? new RobertaClassificationHead(config)
      : new Linear(config.hiddenSize, config.numLabels, { rng: constructionRng() }));
  }
  protected logitsOf(o: ModelOutput): Tensor {
    // both heads read position 0 only. Which head it is comes from the config, not from the module's
    // class: the head may be wrapped (modules_to_save) and must still be fed the same input.
    return this.config.modelType === "roberta"
      ? this.classifier.forward(o.lastHiddenState!)
      : this.classifier.forward(this.dropout.forward(o.poolerOutput!));
  }
}

export class BertForTokenClassification extends TokenClassificationModel<BertModel> {
  declare config: BertConfig;
  constructor(config: BertConfig) {
    super(bertHead(config, "ForTokenClassification", false), config.classifierDropout ?? config.hiddenDropoutProb);
  }
}

export class BertForQuestionAnswering extends QuestionAnsweringModel<BertModel> {
  declare config: BertConfig;
  constructor(config: BertConfig) {
    super(bertHead(config, "ForQuestionAnswering", false));
  }
}

/** cls.predictions.transform: dense → act → LayerNorm (BERT); lm_head dense → gelu → layer_norm (RoBERTa). */
export class BertPredictionHeadTransform extends Module {
  declare dense: Linear;
  declare LayerNorm: LayerNorm;
  private readonly act: (x: Tensor) => Tensor;
  constructor(config: BertConfig) {
    super();
    this.registerModule("dense", new Linear(config.hiddenSize, config.hiddenSize, { rng: constructionRng() }));
    this.registerModule("LayerNorm", new LayerNorm(config.hiddenSize, config.layerNormEps));
    this.act = activation(config.hiddenAct);
  }
  forward(x: Tensor): Tensor {
    return this.LayerNorm.forward(this.act(this.dense.forward(x)));
  }
}

export class BertLMPredictionHead extends Module {
  declare bias: Tensor;
  declare transform: BertPredictionHeadTransform;
  declare decoder: Linear;
  constructor(config: BertConfig) {
    super();
    // bias first, so that namedParameters() lists it under this name rather than decoder.bias
    this.registerParameter("bias", Tensor.zeros([config.vocabSize]).requiresGrad_());
    this.registerModule("transform", new BertPredictionHeadTransform(config));
    this.registerModule("decoder", new Linear(config.hiddenSize, config.vocabSize, { bias: false, rng: constructionRng() }));
    this.decoder.registerParameter("bias", this.bias);
  }
  forward(x: Tensor): Tensor {
    return this.decoder.forward(this.transform.forward(x));
  }
}

export class BertOnlyMLMHead extends Module {
  declare predictions: BertLMPredictionHead;
  constructor(config: BertConfig) {
    super();
    this.registerModule("predictions", new BertLMPredictionHead(config));
  }
}

export class RobertaLMHead extends Module {
  declare bias: Tensor;
  declare dense: Linear;
  declare layer_norm: LayerNorm;
  declare decoder: Linear;
  constructor(config: BertConfig) {
    super();
    this.registerParameter("bias", Tensor.zeros([config.vocabSize]).requiresGrad_());
    this.registerModule("dense", new Linear(config.hiddenSize, config.hiddenSize, { rng: constructionRng() }));
    this.registerModule("layer_norm", new LayerNorm(config.hiddenSize, config.layerNormEps));
    this.registerModule("decoder", new Linear(config.hiddenSize, config.vocabSize, { bias: false, rng: constructionRng() }));
    this.decoder.registerParameter("bias", this.bias);
  }
  forward(x: Tensor): Tensor {
    return this.decoder.forward(this.layer_norm.forward(ops.gelu(this.dense.forward(x), "none")));
  }
}

export class BertForMaskedLM extends HeadModel<BertModel> {
  declare config: BertConfig;
  override readonly newHeadModules: string[];
  declare cls: BertOnlyMLMHead | undefined;
  declare lm_head: RobertaLMHead | undefined;
  constructor(config: BertConfig) {
    super(bertHead(config, "ForMaskedLM", false));
    this.newHeadModules = [config.modelType === "roberta" ? "lm_head" : "cls"];
    if (config.modelType === "roberta") this.registerModule("lm_head", new RobertaLMHead(config));
    else this.registerModule("cls", new BertOnlyMLMHead(config));
    this.tieWeights();
  }
  override tiedWeights(): Record<string, string> {
    const p = this.baseModelPrefix;
    const t: Record<string, string> = {};
    const head = this.lm_head ? "lm_head" : "cls.predictions";
    if (this.config.tieWordEmbeddings) t[`${head}.decoder.weight`] = `${p}.embeddings.word_embeddings.weight`;
    t[`${head}.decoder.bias`] = `${head}.bias`;
    return t;
  }
  forward(inputs: ModelInputs): ModelOutput {
    const o = this.runBase(inputs);
    const logits = this.lm_head ? this.lm_head.forward(o.lastHiddenState!) : this.cls!.predictions.forward(o.lastHiddenState!);
    const out = encoderHeadOutput(o, { logits });
    if (inputs.labels !== undefined) out.loss = tokenClassificationLoss(logits, inputs.labels);
    return out;
  }
}
