// The PEFT layer's public surface (re-exported from src/index.ts).
import "./methods.js";

export { PeftModel, getPeftModel } from "./peft_model.js";
export type { PeftModelOptions, LoadAdapterOptions } from "./peft_model.js";
export {
  PeftConfig, TASK_TYPES, CONFIG_NAME, WEIGHTS_NAME, configFromJSON, loadPeftConfig, savePeftConfig,
} from "./config.js";
export type { PeftType, TaskType, PeftConfigOptions } from "./config.js";
export { registerPeftMethod, getPeftMethod, registeredPeftTypes, registeredPeftMethods, peftMethodByCliName } from "./registry.js";
export type {
  PeftMethod, PeftTypes, PeftCliKind, PeftCliField, PeftCliContext, PeftCapabilities, CombinationType,
} from "./registry.js";
export { peftConfigFromCli, peftCliFields } from "./cli.js";
export type { AdapterHost, AdapterHostContext, MethodOptions } from "./adapter_host.js";
export { TunerHost } from "./tuner_host.js";
export { BaseTuner } from "./tuner.js";
export { matchTarget } from "./target_matching.js";
export { BaseTunerLayer } from "./tuner_layer.js";
export { ModulesToSaveWrapper } from "./modules_to_save.js";
export { LoraConfig, LoraModel, LoraLayer } from "./lora/index.js";
export type { LoraConfigOptions } from "./lora/index.js";
export { IA3Config, IA3Model, IA3Layer } from "./ia3/index.js";
export type { IA3ConfigOptions } from "./ia3/index.js";
export { PromptTuningConfig, PrefixTuningConfig, PromptEncoderConfig, PromptHost, promptEncoderOf } from "./prompt/index.js";
export { LNTuningConfig, LNTuningModel } from "./ln_tuning/index.js";
export { applyBitFit } from "./bitfit.js";
export { TENSOR_PARALLEL_PEFT_METHODS, checkTensorParallelPeft, checkTensorParallelMethod, gatherAdapterEntries } from "./tp.js";
export { LoHaConfig, LoHaModel, LoHaLayer } from "./loha/index.js";
export { LoKrConfig, LoKrModel, LoKrLayer } from "./lokr/index.js";
export { VeraConfig, VeraModel, VeraLayer } from "./vera/index.js";
export { AdaLoraConfig, AdaLoraModel, AdaLoraLayer, RankAllocator } from "./adalora/index.js";
