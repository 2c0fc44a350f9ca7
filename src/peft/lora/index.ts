// LoRA: low-rank adapters (Hu et al. 2021), with rsLoRA scaling, DoRA and PiSSA init.
import { PeftError } from "../../tensor/errors.js";
import { registerPeftMethod } from "../registry.js";
import { LORA_DROPOUT, LORA_R, MODULES_TO_SAVE, TARGET_MODULES, loraAlpha } from "../cli.js";
import { LoraConfig } from "./config.js";
import { LoraModel } from "./model.js";
import { addWeightedAdapter } from "./weighted.js";

declare module "../registry.js" {
  interface PeftTypes {
    LORA: LoraConfig;
  }
}

registerPeftMethod({
  peftType: "LORA",
  cliName: "lora",
  cliFields: [
    LORA_R, loraAlpha(), LORA_DROPOUT, TARGET_MODULES, MODULES_TO_SAVE,
    { flag: "bias", kind: "string", choices: ["none", "all", "lora_only"], help: "which biases train (LoRA)" },
    { flag: "use_rslora", kind: "bool", help: "rank-stabilised LoRA (scaling = alpha / sqrt(r))" },
    { flag: "use_dora", kind: "bool", help: "DoRA (weight-decomposed LoRA)" },
    {
      flag: "init_lora_weights", kind: "string", help: "LoRA init: true, false, gaussian, pissa",
      parse: (v) => (v === "true" ? true : v === "false" ? false : v),
    },
  ],
  configFromOptions: (o) => new LoraConfig(o),
  createTuner: (model) => new LoraModel(model),
  capabilities: {
    addWeightedAdapter: (tuner, adapters, weights, newName, combinationType, svdRank) => {
      if (!(tuner instanceof LoraModel)) throw new PeftError(`addWeightedAdapter works on LoRA adapters, not ${tuner.constructor.name}`);
      return addWeightedAdapter(tuner, adapters, weights, newName, combinationType, svdRank);
    },
  },
});

export { LoraConfig } from "./config.js";
export type { LoraConfigOptions, LoraBias, LoraInit } from "./config.js";
export { LoraModel, LORA_DEFAULT_TARGETS } from "./model.js";
export { LoraLayer, DoraMagnitude } from "./layer.js";
export type { CombinationType } from "./weighted.js";
