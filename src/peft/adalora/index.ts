// AdaLoRA: adaptive budget allocation for LoRA in SVD form (Zhang et al. 2023).
import { registerPeftMethod } from "../registry.js";
import { LORA_DROPOUT, MODULES_TO_SAVE, TARGET_MODULES, loraAlpha } from "../cli.js";
import { AdaLoraConfig } from "./config.js";
import { AdaLoraModel } from "./model.js";

declare module "../registry.js" {
  interface PeftTypes {
    ADALORA: AdaLoraConfig;
  }
}

/** total_step when neither the flag nor the caller's planned step count gives one. */
const FALLBACK_TOTAL_STEP = 1000;

registerPeftMethod({
  peftType: "ADALORA",
  cliName: "adalora",
  cliFields: [
    { flag: "init_r", kind: "int", default: 12, help: "AdaLoRA: rank every layer starts with" },
    { flag: "target_r", kind: "int", default: 8, help: "AdaLoRA: average rank each layer keeps after budgeting" },
    loraAlpha(), LORA_DROPOUT, TARGET_MODULES, MODULES_TO_SAVE,
    { flag: "tinit", kind: "int", default: 0, help: "AdaLoRA: warm-up steps before budgeting" },
    { flag: "tfinal", kind: "int", default: 0, help: "AdaLoRA: final fine-tuning steps after budgeting" },
    { flag: "delta_t", kind: "int", default: 1, help: "AdaLoRA: steps between two budget allocations" },
    {
      flag: "total_step", kind: "int",
      help: `AdaLoRA: total training steps of the budget schedule (default: the run's planned steps when known, else ${FALLBACK_TOTAL_STEP})`,
    },
  ],
  cliContextOptions: (flags, ctx) => ({ totalStep: flags.total_step ?? ctx.totalSteps ?? FALLBACK_TOTAL_STEP }),
  configFromOptions: (o) => new AdaLoraConfig(o),
  createTuner: (m) => new AdaLoraModel(m),
});

export { AdaLoraConfig } from "./config.js";
export type { AdaLoraConfigOptions } from "./config.js";
export { AdaLoraModel, RankAllocator } from "./model.js";
export { AdaLoraLayer } from "./layer.js";
