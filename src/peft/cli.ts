// The CLI face of the PEFT methods: each registered method lists the flags it reads
// (PeftMethod.cliFields); these helpers turn parsed flags into its config and give the CLI the
// union of every method's flags. Fields several methods share are defined once here.

import { ConfigError } from "../tensor/errors.js";
import { snakeToCamel, type PeftConfig } from "./config.js";
import { registeredPeftMethods, type PeftCliContext, type PeftCliField, type PeftMethod } from "./registry.js";

/** Builds the config from parsed CLI flags (snake_case keys; only flags of this method are read; undefined = not given) + context. */
export function peftConfigFromCli(method: PeftMethod, flags: Record<string, unknown>, ctx: PeftCliContext): PeftConfig {
  const opts: Record<string, unknown> = { taskType: ctx.taskType, baseModelNameOrPath: ctx.baseModelNameOrPath };
  for (const f of method.cliFields) {
    let v = flags[f.flag];
    if (v === undefined) v = f.default;
    if (v !== undefined && f.parse) v = f.parse(v);
    if (v !== undefined) opts[f.option ?? snakeToCamel(f.flag)] = v;
  }
  Object.assign(opts, method.cliContextOptions?.(flags, ctx));
  return method.configFromOptions(opts);
}

function sameDecl(a: PeftCliField, b: PeftCliField): boolean {
  return a.kind === b.kind && JSON.stringify(a.default) === JSON.stringify(b.default) && JSON.stringify(a.choices ?? null) === JSON.stringify(b.choices ?? null);
}

/**
 * The union of every method's cliFields (of `methods`, default: every registered method),
 * deduplicated by flag; throws a ConfigError naming both methods if two declare one flag with
 * different kind/default/choices.
 */
export function peftCliFields(methods: readonly PeftMethod[] = registeredPeftMethods()): PeftCliField[] {
  const seen = new Map<string, { field: PeftCliField; owner: PeftMethod }>();
  for (const m of methods) {
    for (const f of m.cliFields) {
      const prev = seen.get(f.flag);
      if (!prev) seen.set(f.flag, { field: f, owner: m });
      else if (!sameDecl(prev.field, f)) {
        const d = (x: PeftCliField) => `${x.kind}, default ${JSON.stringify(x.default)}${x.choices ? `, choices ${x.choices.join("/")}` : ""}`;
        throw new ConfigError(`PEFT flag --${f.flag} is declared differently by ${prev.owner.cliName} (${d(prev.field)}) and ${m.cliName} (${d(f)})`);
      }
    }
  }
  return [...seen.values()].map((e) => e.field);
}

// ------------------------------------------------------------------ shared fields

/** A parse that leaves empty values ("" / 0) unset, as the CLI always did for optional strings/sizes. */
export const unlessEmpty = (v: unknown): unknown => (v === "" || v === 0 || v === null ? undefined : v);

/** ["all-linear"] (or "all_linear") → "all-linear"; other lists and regex strings unchanged. */
function allLinear(v: unknown): unknown {
  const one = Array.isArray(v) && v.length === 1 ? v[0] : v;
  return one === "all-linear" || one === "all_linear" ? "all-linear" : v;
}

export const TARGET_MODULES: PeftCliField = {
  flag: "target_modules", kind: "list", parse: allLinear,
  help: 'modules to adapt: comma list (q_proj,v_proj), "all-linear", or a regex over full names (.*\\.(q|v)_proj); default: the model type\'s HF default',
};
export const MODULES_TO_SAVE: PeftCliField = {
  flag: "modules_to_save", kind: "list", help: "extra modules trained in full and saved with the adapter (comma list)",
};
export const LORA_R: PeftCliField = { flag: "lora_r", option: "r", kind: "int", default: 8, help: "LoRA/LoHa/LoKr rank r" };
/** lora_alpha sets `loraAlpha`; LoHa/LoKr call the same number `alpha`. */
export function loraAlpha(option = "loraAlpha"): PeftCliField {
  return { flag: "lora_alpha", option, kind: "float", default: 16, help: "LoRA/LoHa/LoKr/AdaLoRA alpha (scaling = alpha / r)" };
}
export const LORA_DROPOUT: PeftCliField = { flag: "lora_dropout", kind: "float", default: 0, help: "dropout on the LoRA/AdaLoRA input" };
export const NUM_VIRTUAL_TOKENS: PeftCliField = {
  flag: "num_virtual_tokens", kind: "int", default: 8, help: "prompt/prefix/p-tuning: number of virtual tokens",
};
export const ENCODER_HIDDEN_SIZE: PeftCliField = {
  flag: "encoder_hidden_size", kind: "int", parse: unlessEmpty, help: "prefix tuning / p-tuning: hidden size of the prompt MLP (default: the model's hidden size)",
};
