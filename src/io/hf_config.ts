// Hugging Face config.json support: the typed configs, parsing them, loading them from folders, writing them back.
// The parts: hf_config_types.ts (the config types), hf_config_reader.ts (typed field access),
// hf_config_labels.ts (labels and their overrides), hf_config_parse.ts (per-family parsing and
// defaults) and hf_config_file.ts (loading, AutoConfig, writing back).

export { SUPPORTED_MODEL_TYPES } from "./hf_config_types.js";
export type { BartConfig, BaseConfig, BertConfig, GPT2Config, LlamaConfig, ModelType, T5Config, PretrainedConfig, ProblemType, RopeScaling } from "./hf_config_types.js";
export { PROBLEM_TYPES, applyLabelOptions, defaultId2Label } from "./hf_config_labels.js";
export type { LabelOptions } from "./hf_config_labels.js";
export { parseConfig } from "./hf_config_parse.js";
export { AutoConfig, configToJSON, loadConfig, loadConfigFile, resolveModelPath } from "./hf_config_file.js";
