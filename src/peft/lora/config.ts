// LoraConfig: the fields of PEFT 0.21's LoraConfig (adapter_config.json spelling = snake_case of
// each name). Fields for features peft-ts does not implement are kept so files round-trip, and
// are rejected when set to anything but their default.

import {
  PeftConfig, PeftConfigOptions, checkOneOf, checkPositiveInt, checkTargetSpec, checkUnsupported,
} from "../config.js";
import { ConfigError } from "../../tensor/errors.js";

export type LoraBias = "none" | "all" | "lora_only";
export type LoraInit = boolean | "gaussian" | "pissa";

export interface LoraConfigOptions extends PeftConfigOptions {
  /** Rank of the update ΔW = B·A (default 8). */
  r?: number;
  /** Scaling numerator: scaling = loraAlpha / r (or / √r with useRslora). Default 8. */
  loraAlpha?: number;
  /** Module names (exact or `.name` suffix), a regex (full match) or "all-linear". */
  targetModules?: string | string[] | null;
  /** Modules never adapted (same matching rules as targetModules). */
  excludeModules?: string | string[] | null;
  /** Dropout on the adapter input (default 0). */
  loraDropout?: number;
  /** True for layers storing the weight as [in, out] (GPT-2 Conv1D). */
  fanInFanOut?: boolean;
  /** Which biases train: "none", "all" or "lora_only" (biases of adapted layers). */
  bias?: LoraBias;
  /** scaling = alpha/√r (rank-stabilised LoRA). */
  useRslora?: boolean;
  /** Extra modules trained in full and saved with the adapter (SEQ_CLS adds classifier/score). */
  modulesToSave?: string[] | null;
  /** true: kaiming-uniform A, zero B; false: random A and B (tests); "gaussian"; "pissa" (SVD of W). */
  initLoraWeights?: LoraInit;
  /** Only adapt these layer indices (with layersPattern naming the layer list). */
  layersToTransform?: number | number[] | null;
  layersPattern?: string | string[] | null;
  /** Per-module rank / alpha overrides, keyed by module name or regex. */
  rankPattern?: Record<string, number>;
  alphaPattern?: Record<string, number>;
  /** DoRA: weight-decomposed LoRA with a trainable magnitude vector. */
  useDora?: boolean;
  [k: string]: unknown;
}

export const LORA_DEFAULTS = {
  r: 8,
  targetModules: null,
  excludeModules: null,
  loraAlpha: 8,
  loraDropout: 0.0,
  fanInFanOut: false,
  bias: "none",
  useRslora: false,
  modulesToSave: null,
  initLoraWeights: true,
  layersToTransform: null,
  layersPattern: null,
  rankPattern: {},
  alphaPattern: {},
  megatronConfig: null,
  megatronCore: "megatron.core",
  targetParameters: null,
  trainableTokenIndices: null,
  loftqConfig: {},
  evaConfig: null,
  cordaConfig: null,
  useDora: false,
  aloraInvocationTokens: null,
  useQalora: false,
  qaloraGroupSize: 16,
  layerReplication: null,
  loraBias: false,
  ensureWeightTying: false,
  arrowConfig: null,
  kasaConfig: null,
  loraGaConfig: null,
  montecloraConfig: null,
  useBdlora: null,
  veloraConfig: null,
} as Record<string, unknown>;

const UNSUPPORTED = [
  "megatronConfig", "targetParameters", "trainableTokenIndices", "evaConfig", "cordaConfig", "aloraInvocationTokens",
  "useQalora", "layerReplication", "loraBias", "arrowConfig", "kasaConfig", "loraGaConfig", "montecloraConfig", "useBdlora", "veloraConfig",
];

export class LoraConfig extends PeftConfig {
  declare r: number;
  declare loraAlpha: number;
  declare targetModules: string | string[] | null;
  declare excludeModules: string | string[] | null;
  declare loraDropout: number;
  declare fanInFanOut: boolean;
  declare bias: LoraBias;
  declare useRslora: boolean;
  declare modulesToSave: string[] | null;
  declare initLoraWeights: LoraInit;
  declare layersToTransform: number | number[] | null;
  declare layersPattern: string | string[] | null;
  declare rankPattern: Record<string, number>;
  declare alphaPattern: Record<string, number>;
  declare useDora: boolean;
  declare loftqConfig: Record<string, unknown>;
  protected static override floatFields = ["lora_dropout"];

  constructor(opts: LoraConfigOptions = {}) {
    super("LORA", LORA_DEFAULTS, opts);
    this.validate();
  }
  override validate(): void {
    const c = "LoraConfig";
    checkPositiveInt(c, "r", this.r);
    if (typeof this.loraAlpha !== "number" || !Number.isFinite(this.loraAlpha)) throw new ConfigError(`${c}: lora_alpha must be a number, got ${JSON.stringify(this.loraAlpha)}`);
    if (typeof this.loraDropout !== "number" || this.loraDropout < 0 || this.loraDropout >= 1) throw new ConfigError(`${c}: lora_dropout must be in [0, 1), got ${JSON.stringify(this.loraDropout)}`);
    checkTargetSpec("target_modules", c, this.targetModules);
    checkTargetSpec("exclude_modules", c, this.excludeModules);
    checkOneOf(c, "bias", this.bias, ["none", "all", "lora_only"]);
    checkOneOf(c, "init_lora_weights", this.initLoraWeights, [true, false, "gaussian", "pissa"]);
    // PEFT's LoraConfig.__post_init__ checks (a regex target_modules selects layers itself)
    if (typeof this.targetModules === "string" && this.layersToTransform !== null) throw new ConfigError(`${c}: layers_to_transform cannot be used when target_modules is a str (regex)`);
    if (typeof this.targetModules === "string" && this.layersPattern !== null) throw new ConfigError(`${c}: layers_pattern cannot be used when target_modules is a str (regex)`);
    if (this.layersPattern && this.layersToTransform === null) throw new ConfigError(`${c}: when layers_pattern is specified, layers_to_transform must also be specified`);
    if (this.useDora && this.initLoraWeights === "pissa") throw new ConfigError(`${c}: use_dora with init_lora_weights="pissa" is not supported`);
    checkUnsupported(c, this, LORA_DEFAULTS, UNSUPPORTED);
    if (JSON.stringify(this.loftqConfig) !== "{}") throw new ConfigError(`${c}: loftq_config is not supported by peft-ts`);
  }
}
