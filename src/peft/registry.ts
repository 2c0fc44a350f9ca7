// The table of PEFT methods: peft_type → how to build its config and its tuner. Each method
// folder registers itself once (lora/index.ts, ia3/index.ts, …); src/peft/methods.ts imports them all.

import type { Module } from "../nn/module.js";
import { ConfigError } from "../tensor/errors.js";
import type { PeftConfig, PeftType } from "./config.js";
import type { BaseTuner } from "./tuner.js";

export interface PeftMethod {
  peftType: PeftType;
  /** Builds a config from camelCase options (as `new XConfig(opts)`). */
  configFromOptions: (opts: Record<string, unknown>) => PeftConfig;
  /** Builds the model-level tuner for injectable methods; prompt-learning methods have none. */
  createTuner?: (model: Module) => BaseTuner;
}

const REGISTRY = new Map<PeftType, PeftMethod>();

/** Registers a PEFT method (called once from each method folder's index.ts). */
export function registerPeftMethod(m: PeftMethod): void {
  REGISTRY.set(m.peftType, m);
}
export function getPeftMethod(peftType: string): PeftMethod {
  const m = REGISTRY.get(peftType as PeftType);
  if (!m) {
    throw new ConfigError(`peft_type '${peftType}' is not supported; expected one of: ${[...REGISTRY.keys()].sort().join(", ")}`);
  }
  return m;
}
export function registeredPeftTypes(): PeftType[] {
  return [...REGISTRY.keys()];
}
