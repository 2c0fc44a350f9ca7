export { Optimizer, FlatGrads } from "./optimizer.js";
export type { ParamGroup, ParamGroupInput, ParamState } from "./optimizer.js";
export { AdamW } from "./adamw.js";
export type { AdamWOptions } from "./adamw.js";
export { SGD } from "./sgd.js";
export type { SGDOptions } from "./sgd.js";
export { Adafactor } from "./adafactor.js";
export type { AdafactorOptions } from "./adafactor.js";
export { decayParameterNames, defaultParamGroups } from "./groups.js";
