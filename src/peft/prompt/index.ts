// Prompt learning: prompt tuning (Lester et al.), prefix tuning (Li & Liang), p-tuning (Liu et al.).
import { registerPeftMethod } from "../registry.js";
import { ENCODER_HIDDEN_SIZE, NUM_VIRTUAL_TOKENS, unlessEmpty } from "../cli.js";
import { PrefixTuningConfig, PromptEncoderConfig, PromptTuningConfig } from "./config.js";
import { createPromptHost } from "./host.js";

declare module "../registry.js" {
  interface PeftTypes {
    PROMPT_TUNING: PromptTuningConfig;
    PREFIX_TUNING: PrefixTuningConfig;
    P_TUNING: PromptEncoderConfig;
  }
}

registerPeftMethod({
  peftType: "PROMPT_TUNING",
  cliName: "prompt_tuning",
  cliAliases: ["prompt"],
  cliFields: [
    NUM_VIRTUAL_TOKENS,
    { flag: "prompt_tuning_init", kind: "string", choices: ["RANDOM", "TEXT", "SAMPLE_VOCAB"], help: "prompt tuning init: RANDOM, TEXT, SAMPLE_VOCAB" },
    { flag: "prompt_tuning_init_text", kind: "string", parse: unlessEmpty, help: "prompt tuning: text for prompt_tuning_init TEXT (tokenized with the base model's tokenizer)" },
  ],
  // the init text is tokenized with the base model's tokenizer, which peft records in the config
  cliContextOptions: (flags, ctx) => (flags.prompt_tuning_init_text ? { tokenizerNameOrPath: ctx.baseModelNameOrPath } : {}),
  configFromOptions: (o) => new PromptTuningConfig(o),
  createHost: createPromptHost,
});
registerPeftMethod({
  peftType: "PREFIX_TUNING",
  cliName: "prefix_tuning",
  cliAliases: ["prefix"],
  cliFields: [
    NUM_VIRTUAL_TOKENS,
    { flag: "prefix_projection", kind: "bool", help: "prefix tuning: reparametrise the prefix through an MLP" },
    ENCODER_HIDDEN_SIZE,
    { flag: "encoder_prefix", kind: "bool", help: "prefix tuning, encoder-decoders: prefixes on the encoder's self-attention too (peft-ts only; PEFT cannot load such adapters)" },
  ],
  configFromOptions: (o) => new PrefixTuningConfig(o),
  createHost: createPromptHost,
});
registerPeftMethod({
  peftType: "P_TUNING",
  cliName: "p_tuning",
  cliFields: [NUM_VIRTUAL_TOKENS, ENCODER_HIDDEN_SIZE],
  configFromOptions: (o) => new PromptEncoderConfig(o),
  createHost: createPromptHost,
});

export { PromptTuningConfig, PrefixTuningConfig, PromptEncoderConfig, PromptLearningConfig } from "./config.js";
export type { PromptTuningInit, PromptTuningConfigOptions, PrefixTuningConfigOptions, PromptEncoderConfigOptions } from "./config.js";
export { PromptEmbedding, PrefixEncoder, PromptEncoder, PromptModule, prefixKeyValues } from "./model.js";
export { seq2seqPrefixes } from "./seq2seq.js";
export type { PromptInitOptions } from "./model.js";
export { PromptHost, promptEncoderOf } from "./host.js";
