// LoRA: low-rank adapters (Hu et al. 2021), with rsLoRA scaling, DoRA and PiSSA init.
import { registerPeftMethod } from "../registry.js";
import { LoraConfig } from "./config.js";
import { LoraModel } from "./model.js";

registerPeftMethod({
  peftType: "LORA",
  configFromOptions: (o) => new LoraConfig(o),
  createTuner: (model) => new LoraModel(model),
});

export { LoraConfig } from "./config.js";
export type { LoraConfigOptions, LoraBias, LoraInit } from "./config.js";
export { LoraModel, LORA_DEFAULT_TARGETS } from "./model.js";
export { LoraLayer, DoraMagnitude } from "./layer.js";
