// IA3: infused adapters by inhibiting and amplifying inner activations (Liu et al. 2022).
import { registerPeftMethod } from "../registry.js";
import { MODULES_TO_SAVE, TARGET_MODULES } from "../cli.js";
import { IA3Config } from "./config.js";
import { IA3Model } from "./model.js";

declare module "../registry.js" {
  interface PeftTypes {
    IA3: IA3Config;
  }
}

registerPeftMethod({
  peftType: "IA3",
  cliName: "ia3",
  cliFields: [
    TARGET_MODULES,
    { flag: "feedforward_modules", kind: "list", help: "IA3: the feed-forward modules among target_modules (comma list)" },
    MODULES_TO_SAVE,
  ],
  configFromOptions: (o) => new IA3Config(o),
  createTuner: (model) => new IA3Model(model),
});

export { IA3Config } from "./config.js";
export type { IA3ConfigOptions } from "./config.js";
export { IA3Model, IA3_DEFAULT_TARGETS } from "./model.js";
export { IA3Layer } from "./layer.js";
