// AdaLoRA: adaptive budget allocation for LoRA in SVD form (Zhang et al. 2023).
import { registerPeftMethod } from "../registry.js";
import { AdaLoraConfig } from "./config.js";
import { AdaLoraModel } from "./model.js";

registerPeftMethod({ peftType: "ADALORA", configFromOptions: (o) => new AdaLoraConfig(o), createTuner: (m) => new AdaLoraModel(m) });

export { AdaLoraConfig } from "./config.js";
export type { AdaLoraConfigOptions } from "./config.js";
export { AdaLoraModel, RankAllocator } from "./model.js";
export { AdaLoraLayer } from "./layer.js";
