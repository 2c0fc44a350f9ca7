// IA3Config: PEFT 0.21's IA3Config fields (target_modules, feedforward_modules, …).
import { PeftConfig, PeftConfigOptions, checkTargetSpec } from "../config.js";
import { ConfigError } from "../../tensor/errors.js";

export interface IA3ConfigOptions extends PeftConfigOptions {
  /** Module names (exact or `.name` suffix) or a regex (full match). */
  targetModules?: string | string[] | null;
  excludeModules?: string | string[] | null;
  /** Targets treated as feed-forward: their input is scaled ([1,in]) instead of their output ([out,1]). */
  feedforwardModules?: string | string[] | null;
  fanInFanOut?: boolean;
  modulesToSave?: string[] | null;
  /** true: vectors start at 1 (identity); false: random (tests). */
  initIa3Weights?: boolean;
}

export class IA3Config extends PeftConfig {
  declare targetModules: string | string[] | null;
  declare excludeModules: string | string[] | null;
  declare feedforwardModules: string | string[] | null;
  declare fanInFanOut: boolean;
  declare modulesToSave: string[] | null;
  declare initIa3Weights: boolean;
  constructor(opts: IA3ConfigOptions = {}) {
    super("IA3", {
      targetModules: null, excludeModules: null, feedforwardModules: null, fanInFanOut: false, modulesToSave: null, initIa3Weights: true,
    }, opts);
    this.validate();
  }
  override validate(): void {
    checkTargetSpec("target_modules", "IA3Config", this.targetModules);
    checkTargetSpec("exclude_modules", "IA3Config", this.excludeModules);
    checkTargetSpec("feedforward_modules", "IA3Config", this.feedforwardModules);
    const tm = this.targetModules, ff = this.feedforwardModules;
    if (Array.isArray(tm) && Array.isArray(ff)) {
      const extra = ff.filter((f) => !tm.includes(f));
      if (extra.length) throw new ConfigError(`IA3Config: feedforward_modules must be a subset of target_modules; not in target_modules: ${extra.join(", ")}`);
    }
  }
}
