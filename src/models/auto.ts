// Auto classes: model_type (from config.json) → the model class for a task.
import { ConfigError } from "../tensor/errors.js";
import { applyLabelOptions, loadConfigFile, parseConfig, PretrainedConfig, resolveModelPath } from "../io/hf_config.js";
import { hfConfigFromLlama2c, readLlama2c } from "../io/llama2c.js";
import { checkConfigFitsMemory } from "../io/hf_config_weights.js";
import type { BertConfig } from "../io/hf_config.js";
import { buildFromDir, LoadOptions, PreTrainedModel } from "./modeling_utils.js";
import { BertModel } from "./bert.js";
import { BertForMaskedLM, BertForQuestionAnswering, BertForSequenceClassification, BertForTokenClassification } from "./bert_heads.js";
import { DistilBertForMaskedLM, DistilBertForQuestionAnswering, DistilBertForSequenceClassification, DistilBertForTokenClassification, DistilBertModel } from "./distilbert.js";
import { GPT2ForSequenceClassification, GPT2LMHeadModel, GPT2Model } from "./gpt2.js";
import { LlamaForCausalLM, LlamaForSequenceClassification, LlamaModel } from "./llama.js";
import { T5EncoderModel, T5ForConditionalGeneration } from "./t5.js";
import { BartForConditionalGeneration, MarianMTModel } from "./bart.js";
import { BartModel, MarianModel, T5Model } from "./seq2seq_base.js";

type Factory = (c: PretrainedConfig) => PreTrainedModel;
type Task = "base" | "sequence-classification" | "token-classification" | "question-answering" | "causal-lm" | "masked-lm" | "seq2seq-lm" | "text-encoding";

const bert = (f: (c: BertConfig) => PreTrainedModel): Factory => (c) => f(c as BertConfig);

const REGISTRY: Record<Task, Record<string, Factory>> = {
  base: {
    bert: bert((c) => new BertModel(c)),
    roberta: bert((c) => new BertModel(c)),
    distilbert: (c) => new DistilBertModel(c),
    gpt2: (c) => new GPT2Model(c),
    llama: (c) => new LlamaModel(c),
    mistral: (c) => new LlamaModel(c),
    qwen2: (c) => new LlamaModel(c),
    t5: (c) => new T5Model(c),
    bart: (c) => new BartModel(c),
    marian: (c) => new MarianModel(c),
  },
  "sequence-classification": {
    bert: bert((c) => new BertForSequenceClassification(c)),
    roberta: bert((c) => new BertForSequenceClassification(c)),
    distilbert: (c) => new DistilBertForSequenceClassification(c),
    gpt2: (c) => new GPT2ForSequenceClassification(c),
    llama: (c) => new LlamaForSequenceClassification(c),
    mistral: (c) => new LlamaForSequenceClassification(c),
    qwen2: (c) => new LlamaForSequenceClassification(c),
  },
  "token-classification": {
    bert: bert((c) => new BertForTokenClassification(c)),
    roberta: bert((c) => new BertForTokenClassification(c)),
    distilbert: (c) => new DistilBertForTokenClassification(c),
  },
  "question-answering": {
    bert: bert((c) => new BertForQuestionAnswering(c)),
    roberta: bert((c) => new BertForQuestionAnswering(c)),
    distilbert: (c) => new DistilBertForQuestionAnswering(c),
  },
  "causal-lm": {
    gpt2: (c) => new GPT2LMHeadModel(c),
    llama: (c) => new LlamaForCausalLM(c),
    mistral: (c) => new LlamaForCausalLM(c),
    qwen2: (c) => new LlamaForCausalLM(c),
  },
  "seq2seq-lm": {
    t5: (c) => new T5ForConditionalGeneration(c),
    bart: (c) => new BartForConditionalGeneration(c),
    marian: (c) => new MarianMTModel(c),
  },
  // encoders of encoder-decoder models (HF has no auto class for these; T5EncoderModel is used directly)
  "text-encoding": {
    t5: (c) => new T5EncoderModel(c),
  },
  "masked-lm": {
    bert: bert((c) => new BertForMaskedLM(c)),
    roberta: bert((c) => new BertForMaskedLM(c)),
    distilbert: (c) => new DistilBertForMaskedLM(c),
  },
};

function factoryFor(task: Task, autoName: string, config: PretrainedConfig): Factory {
  const f = REGISTRY[task][config.modelType];
  if (!f) {
    throw new ConfigError(`${config.source}: ${autoName} does not support model_type '${config.modelType}' (supported: ${Object.keys(REGISTRY[task]).join(", ")})`);
  }
  return f;
}

function autoClass<M extends PreTrainedModel = PreTrainedModel>(task: Task, autoName: string) {
  return {
    /** Loads config.json + safetensors weights from a folder (or a hub id in the local cache). */
    async fromPretrained(dirOrId: string, opts: LoadOptions = {}): Promise<M> {
      if (opts.ggufFile !== undefined) {
        if (task !== "causal-lm") throw new ConfigError(`${autoName}: ggufFile is supported by AutoModelForCausalLM only (Llama-family GGUF files)`);
        const { loadGgufCausalLM, resolveGgufPath } = await import("./gguf_load.js");
        return loadGgufCausalLM(resolveGgufPath(dirOrId, opts.ggufFile), opts) as unknown as M;
      }
      const dir = await resolveModelPath(dirOrId);
      const config = applyLabelOptions(loadConfigFile(dir), opts);
      if (opts.tensorParallel) {
        const { buildTensorParallel } = await import("./parallel.js");
        return buildTensorParallel(dir, config, factoryFor(task, autoName, config), opts.tensorParallel, opts) as M;
      }
      return buildFromDir(dir, config, factoryFor(task, autoName, config), opts) as M;
    },
    /** A randomly initialised model (HF init, global RNG) for a config. */
    fromConfig(config: PretrainedConfig): M {
      checkConfigFitsMemory(config);
      const m = factoryFor(task, autoName, config)(config).initWeights();
      return m as M;
    },
    supportedModelTypes(): string[] {
      return Object.keys(REGISTRY[task]);
    },
  };
}

export const AutoModel = autoClass<BertModel | DistilBertModel | GPT2Model | LlamaModel | T5Model | BartModel | MarianModel>("base", "AutoModel");
export const AutoModelForSequenceClassification = autoClass<
  BertForSequenceClassification | DistilBertForSequenceClassification | GPT2ForSequenceClassification | LlamaForSequenceClassification
>("sequence-classification", "AutoModelForSequenceClassification");
export const AutoModelForTokenClassification = autoClass<BertForTokenClassification | DistilBertForTokenClassification>("token-classification", "AutoModelForTokenClassification");
export const AutoModelForQuestionAnswering = autoClass<BertForQuestionAnswering | DistilBertForQuestionAnswering>("question-answering", "AutoModelForQuestionAnswering");
export const AutoModelForCausalLM = {
  ...autoClass<GPT2LMHeadModel | LlamaForCausalLM>("causal-lm", "AutoModelForCausalLM"),
  /** A llama2.c checkpoint (.bin) as LlamaForCausalLM (HF names, rope rows permuted to HF's layout). */
  fromLlama2c(binPath: string, opts: LoadOptions = {}): LlamaForCausalLM {
    const ckpt = readLlama2c(binPath);
    const model = new LlamaForCausalLM(parseConfig(hfConfigFromLlama2c(ckpt.config), binPath));
    model.loadWeights(ckpt.tensors, binPath, opts);
    model.eval();
    return model;
  },
};
export const AutoModelForMaskedLM = autoClass<BertForMaskedLM | DistilBertForMaskedLM>("masked-lm", "AutoModelForMaskedLM");
export const AutoModelForSeq2SeqLM = autoClass<T5ForConditionalGeneration | BartForConditionalGeneration | MarianMTModel>("seq2seq-lm", "AutoModelForSeq2SeqLM");
