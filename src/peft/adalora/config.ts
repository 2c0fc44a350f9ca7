// AdaLoraConfig: LoraConfig plus AdaLoRA's budget schedule (PEFT 0.21 field names).
import { ConfigError } from "../../tensor/errors.js";
import { LORA_DEFAULTS, LoraConfig, LoraConfigOptions } from "../lora/config.js";
import { PeftConfig, checkPositiveInt } from "../config.js";

export interface AdaLoraConfigOptions extends LoraConfigOptions {
  /** Average rank each layer keeps at the end of budgeting. */
  targetR?: number;
  /** Rank every layer starts with. */
  initR?: number;
  /** Warm-up steps before budgeting, and final fine-tuning steps after it. */
  tinit?: number;
  tfinal?: number;
  /** Steps between two budget allocations. */
  deltaT?: number;
  /** EMA factors for sensitivity and uncertainty. */
  beta1?: number;
  beta2?: number;
  /** Weight of the orthogonality regulariser added to the loss. */
  orthRegWeight?: number;
  /** Total training steps (required). */
  totalStep?: number | null;
}

export const ADALORA_DEFAULTS: Record<string, unknown> = {
  ...LORA_DEFAULTS,
  rankPattern: null,
  targetR: 8, initR: 12, tinit: 0, tfinal: 0, deltaT: 1, beta1: 0.85, beta2: 0.85, orthRegWeight: 0.5, totalStep: null,
};

/** Not a subclass of LoraConfig's constructor path (different peft_type), but the same fields plus the schedule. */
export class AdaLoraConfig extends PeftConfig {
  declare targetR: number;
  declare initR: number;
  declare tinit: number;
  declare tfinal: number;
  declare deltaT: number;
  declare beta1: number;
  declare beta2: number;
  declare orthRegWeight: number;
  declare totalStep: number | null;
  declare rankPattern: Record<string, boolean[]> | null;
  declare loraAlpha: number;
  declare loraDropout: number;
  declare targetModules: string | string[] | null;
  declare excludeModules: string | string[] | null;
  declare fanInFanOut: boolean;
  declare modulesToSave: string[] | null;
  declare layersToTransform: number | number[] | null;
  declare layersPattern: string | string[] | null;
  declare useDora: boolean;
  declare bias: string;
  protected static override floatFields = ["lora_dropout", "beta1", "beta2", "orth_reg_weight"];
  /** PEFT's AdaLoraConfig spells this field `deltaT` (not delta_t). */
  protected static override jsonKeys = { deltaT: "deltaT" };
  constructor(opts: AdaLoraConfigOptions = {}) {
    super("ADALORA", ADALORA_DEFAULTS, opts);
    this.validate();
  }
  override validate(): void {
    const c = "AdaLoraConfig";
    checkPositiveInt(c, "init_r", this.initR);
    checkPositiveInt(c, "target_r", this.targetR);
    if (this.useDora) throw new ConfigError(`${c}: AdaLoRA does not support DoRA`);
    if (this.bias !== "none") throw new ConfigError(`${c}: bias=${JSON.stringify(this.bias)} is not supported (only "none")`);
    if (this.totalStep === null || this.totalStep === undefined || this.totalStep <= 0) {
      throw new ConfigError(`${c}: AdaLoRA does not work when total_step is None, supply a value > 0`);
    }
    if (this.tinit >= this.totalStep - this.tfinal) throw new ConfigError(`${c}: the schedule (tinit ${this.tinit}, tfinal ${this.tfinal}, total_step ${this.totalStep}) leaves no budgeting phase`);
    // reuse LoraConfig's checks of the shared fields
    new LoraConfig({
      r: 1, loraAlpha: this.loraAlpha, loraDropout: this.loraDropout, targetModules: this.targetModules, excludeModules: this.excludeModules,
      layersToTransform: this.layersToTransform, layersPattern: this.layersPattern,
    });
  }
}
