// Prompt learning: prompt tuning (Lester et al.), prefix tuning (Li & Liang), p-tuning (Liu et al.).
import { registerPeftMethod } from "../registry.js";
import { PrefixTuningConfig, PromptEncoderConfig, PromptTuningConfig } from "./config.js";

registerPeftMethod({ peftType: "PROMPT_TUNING", configFromOptions: (o) => new PromptTuningConfig(o) });
registerPeftMethod({ peftType: "PREFIX_TUNING", configFromOptions: (o) => new PrefixTuningConfig(o) });
registerPeftMethod({ peftType: "P_TUNING", configFromOptions: (o) => new PromptEncoderConfig(o) });

export { PromptTuningConfig, PrefixTuningConfig, PromptEncoderConfig, PromptLearningConfig } from "./config.js";
export type { PromptTuningInit, PromptTuningConfigOptions, PrefixTuningConfigOptions, PromptEncoderConfigOptions } from "./config.js";
export { PromptEmbedding, PrefixEncoder, PromptEncoder, PromptModule, prefixKeyValues } from "./model.js";
