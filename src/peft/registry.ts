// The one table of PEFT methods: peft_type → how to build its config, how a PeftModel holds its
// adapters, which CLI flags it reads and which extra capabilities it has. Each method folder
// registers itself once (lora/index.ts, ia3/index.ts, …) and declares its peft_type by augmenting
// `PeftTypes`; src/peft/methods.ts imports them all. A new method = its folder + one import line.

import type { Module } from "../nn/module.js";
import type { PreTrainedModel } from "../models/modeling_utils.js";
import { ConfigError } from "../tensor/errors.js";
import type { PeftConfig, TaskType } from "./config.js";
import type { BaseTuner } from "./tuner.js";
import type { AdapterHost, AdapterHostContext } from "./adapter_host.js";

/**
 * peft_type → config class, filled by the method folders through declaration merging:
 * `declare module "../registry.js" { interface PeftTypes { LORA: LoraConfig } }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface PeftTypes {}
/** A registered peft_type ("LORA", "IA3", "PROMPT_TUNING", …). */
export type PeftType = keyof PeftTypes & string;

export type PeftCliKind = "string" | "int" | "float" | "bool" | "list";
export interface PeftCliField {
  /** snake_case flag name: --lora_r, --num_virtual_tokens, --target_modules. Several methods may declare the same flag; they must agree on kind/default/choices. */
  flag: string;
  /** the config option (camelCase constructor key) it sets; default: the camelCase form of `flag` */
  option?: string;
  kind: PeftCliKind;
  help: string;
  /** CLI default (shown in --help, applied when the flag is not given) */
  default?: unknown;
  choices?: readonly string[];
  /** turns the parsed flag value into the option value (e.g. init_lora_weights "true" → true; target_modules ["all-linear"] → "all-linear"); undefined = leave the option unset */
  parse?: (v: unknown) => unknown;
}
export interface PeftCliContext {
  taskType: TaskType | null;
  baseModelNameOrPath: string;
  /** The run's planned optimizer steps when the caller knows them (AdaLoRA's total_step defaults to it). */
  totalSteps?: number | null;
}

/** LoRA's ways of combining adapters (peft's add_weighted_adapter combination_type). */
export type CombinationType = "linear" | "cat" | "svd";

/** Optional operations a method offers beyond the tuner interface. */
export interface PeftCapabilities {
  /** Combines existing adapters of `tuner` into a new adapter `newName` (injected, not activated); returns its config. */
  addWeightedAdapter?: (
    tuner: BaseTuner, adapters: string[], weights: number[], newName: string, combinationType: CombinationType, svdRank?: number,
  ) => PeftConfig;
}

export interface PeftMethod {
  peftType: PeftType;
  /** Lower-case peft type, the CLI's --peft value ("lora", "prompt_tuning", …). */
  cliName: string;
  /** Other accepted --peft values ("prompt" for prompt_tuning). */
  cliAliases?: readonly string[];
  /** The flags this method reads (see peftConfigFromCli). */
  cliFields: readonly PeftCliField[];
  /** Options that come from the context rather than one flag (e.g. the tokenizer of a prompt-tuning init text). */
  cliContextOptions?: (flags: Record<string, unknown>, ctx: PeftCliContext) => Record<string, unknown>;
  /** Builds a config from camelCase options (as `new XConfig(opts)`). */
  configFromOptions: (opts: Record<string, unknown>) => PeftConfig;
  /** Builds the model-level tuner of injectable methods; the PeftModel then holds it in a tuner host. */
  createTuner?: (model: Module) => BaseTuner;
  /** How a PeftModel holds this method's adapters when it is not a tuner (prompt learning). */
  createHost?: (model: PreTrainedModel, ctx: AdapterHostContext) => AdapterHost;
  capabilities?: PeftCapabilities;
}

const REGISTRY = new Map<string, PeftMethod>();

function cliNamesOf(m: PeftMethod): string[] {
  return [m.cliName, ...(m.cliAliases ?? [])].map((n) => n.toLowerCase());
}

/** Registers a PEFT method (called once from each method folder's index.ts; a second call for a type replaces it). */
export function registerPeftMethod(m: PeftMethod): void {
  if (!m.createTuner && !m.createHost) throw new ConfigError(`${m.peftType}: a PEFT method needs createTuner or createHost`);
  for (const other of REGISTRY.values()) {
    if (other.peftType === m.peftType) continue;
    const clash = cliNamesOf(m).find((n) => cliNamesOf(other).includes(n));
    if (clash) throw new ConfigError(`${m.peftType}: CLI name '${clash}' is already used by ${other.peftType}`);
  }
  REGISTRY.set(m.peftType, m);
}
export function getPeftMethod(peftType: string): PeftMethod {
  const m = REGISTRY.get(peftType);
  if (!m) {
    throw new ConfigError(`peft_type '${peftType}' is not supported; expected one of: ${[...REGISTRY.keys()].sort().join(", ")}`);
  }
  return m;
}
export function registeredPeftTypes(): PeftType[] {
  return [...REGISTRY.keys()] as PeftType[];
}
/** Every registered method, in registration order. */
export function registeredPeftMethods(): PeftMethod[] {
  return [...REGISTRY.values()];
}
/** The method for a CLI name or alias (case-insensitive), or a ConfigError listing the names. */
export function peftMethodByCliName(name: string): PeftMethod {
  const n = name.toLowerCase();
  const m = registeredPeftMethods().find((x) => cliNamesOf(x).includes(n));
  if (m) return m;
  const names = registeredPeftMethods().map((x) => (x.cliAliases?.length ? `${x.cliName} (${x.cliAliases.join(", ")})` : x.cliName));
  throw new ConfigError(`unknown PEFT method '${name}'; expected one of: ${names.join(", ")}`);
}
