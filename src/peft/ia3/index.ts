// IA3: infused adapters by inhibiting and amplifying inner activations (Liu et al. 2022).
import { registerPeftMethod } from "../registry.js";
import { IA3Config } from "./config.js";
import { IA3Model } from "./model.js";

registerPeftMethod({ peftType: "IA3", configFromOptions: (o) => new IA3Config(o), createTuner: (model) => new IA3Model(model) });

export { IA3Config } from "./config.js";
export type { IA3ConfigOptions } from "./config.js";
export { IA3Model, IA3_DEFAULT_TARGETS } from "./model.js";
export { IA3Layer } from "./layer.js";
