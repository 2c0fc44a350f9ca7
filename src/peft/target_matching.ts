// Which modules an adapter targets, with PEFT's rules (check_target_module_exists,
// _maybe_include_all_linear_layers, get_pattern_key): target/exclude modules, layers_to_transform
// with layers_pattern, modules_to_save exclusion and "all-linear". Keys are relative to the model.

import { Module } from "../nn/module.js";
import { ConfigError } from "../tensor/errors.js";
import type { PeftConfig } from "./config.js";
import { layerKind } from "./containers.js";
import { compileOrThrow, isInsideModuleToSave } from "./modules_to_save.js";
import { BaseTunerLayer } from "./tuner_layer.js";

/** The target-selection fields shared by the injectable methods (LoRA, IA3, LN tuning, …). */
export interface TargetSpec {
  targetModules: string | string[] | null;
  excludeModules: string | string[] | null;
  layersToTransform?: number | number[] | null;
  layersPattern?: string | string[] | null;
  modulesToSave: string[] | null;
}

export function targetSpec(cfg: PeftConfig): TargetSpec {
  return cfg as unknown as TargetSpec;
}

function fullMatch(pattern: string, s: string, field: string): boolean {
  return compileOrThrow(`^(?:${pattern})$`, field, pattern).test(s);
}

/** The layer index of `key` (PEFT: the first numbered segment after a `layers_pattern` entry, or after any segment). */
function layerIndexOf(key: string, layersPattern: string | string[] | null | undefined): number | null {
  const pats = layersPattern === null || layersPattern === undefined || layersPattern.length === 0 ? null : typeof layersPattern === "string" ? [layersPattern] : layersPattern;
  let m: RegExpMatchArray | null = null;
  if (!pats) m = key.match(/^.*?\.[^.]*\.(?<idx>\d+)\./);
  else {
    for (const p of pats) {
      m = key.match(compileOrThrow(`^(?:(?:^|.*?\\.)${p}\\.(?<idx>\\d+)\\.)`, "layers_pattern", p));
      if (m) break;
    }
  }
  return m?.groups?.idx === undefined ? null : Number(m.groups.idx);
}

/**
 * PEFT's check_target_module_exists: "excluded", true (adapt) or false. `key` is relative to the model.
 * exclude_modules and target_modules: a string is a regex (full match), a list matches a key exactly
 * or as a `.name` suffix; modules_to_save entries exclude every key with them as a segment run;
 * layers_to_transform keeps list matches whose layer index is listed.
 */
export function matchTarget(spec: TargetSpec, key: string): boolean | "excluded" {
  const ex = spec.excludeModules;
  if (ex) {
    if (typeof ex === "string") {
      if (fullMatch(ex, key, "exclude_modules")) return "excluded";
    } else if (ex.includes(key) || ex.some((e) => key.endsWith("." + e))) {
      return "excluded";
    }
  }
  if (isInsideModuleToSave(key, spec.modulesToSave)) return "excluded";
  const tm = spec.targetModules;
  if (tm === null || tm === undefined) return false;
  if (typeof tm === "string") return fullMatch(tm, key, "target_modules");
  if (tm.includes(key)) return true;
  const found = tm.some((t) => key.endsWith("." + t));
  const idx = spec.layersToTransform;
  const using = idx !== null && idx !== undefined && (Array.isArray(idx) ? idx.length > 0 : true);
  if (!using || !found) return found;
  const li = layerIndexOf(key, spec.layersPattern);
  if (li === null) return false;
  return Array.isArray(idx) ? idx.includes(li) : li === idx;
}

/** PEFT's get_pattern_key for rank_pattern/alpha_pattern: an exact key or a `(.*\.)?key$` match. */
export function patternKey(patterns: Record<string, unknown> | null | undefined, key: string): string | null {
  if (patterns === null || patterns === undefined) return null; // null in a file: no pattern, as {}
  const keys = Object.keys(patterns);
  if (keys.includes(key)) return key;
  for (const p of keys) {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:.*\\.)?(?:${p})$`);
    } catch (e) {
      throw new ConfigError(`rank_pattern/alpha_pattern key ${JSON.stringify(p)} is not a valid regular expression: ${(e as Error).message}`);
    }
    if (re.test(key)) return p;
  }
  return null;
}

/** Where our head models keep HF's get_output_embeddings() (LM heads, MLM decoders). */
const OUTPUT_EMBEDDING_NAMES = ["lm_head", "cls.predictions.decoder", "lm_head.decoder", "vocab_projector"];
/** PEFT's SEQ_CLS_HEAD_NAMES: the classification head all-linear leaves out for SEQ_CLS (first found). */
const SEQ_CLS_HEAD_NAMES = ["score", "classifier"];

/**
 * PEFT's "all-linear" (_maybe_include_all_linear_layers): the full names of every Linear/Conv1D (or
 * adapter layer over one), less the output embeddings or, for SEQ_CLS models without any, the
 * classification head, and less modules inside adapter layers. modules_to_save entries are left out
 * later, by matchTarget.
 */
export function allLinearNames(model: Module, taskType: string | null): string[] {
  const modules = model.namedModules();
  const names = new Set(modules.map(([k]) => k));
  const exclude = new Set<string>();
  const out = OUTPUT_EMBEDDING_NAMES.find((n) => names.has(n));
  if (out !== undefined) exclude.add(out);
  else if (taskType === "SEQ_CLS") {
    const head = SEQ_CLS_HEAD_NAMES.find((n) => names.has(n));
    if (head !== undefined) exclude.add(head);
  }
  const inside = modules.filter(([, m]) => m instanceof BaseTunerLayer).map(([k]) => k + ".");
  const found: string[] = [];
  for (const [key, m] of modules) {
    if (!key || exclude.has(key) || inside.some((p) => key.startsWith(p))) continue;
    const k = layerKind(m instanceof BaseTunerLayer ? m.getBaseLayer() : m);
    if (k === "linear" || k === "conv1d") found.push(key);
  }
  return found;
}

/** Names of modules with own parameters, for error messages (unique last components). */
export function availableModuleNames(model: Module): string[] {
  const names = new Set<string>();
  for (const [key, m] of model.namedModules()) {
    if (!key || m.ownParameters().length === 0) continue;
    names.add(key.split(".").pop()!);
  }
  return [...names].sort();
}

/**
 * When layers_to_transform left nothing to adapt: a ConfigError naming the indices that are not
 * layers of the model (or a layers_pattern that names no layer list), instead of "not found".
 */
export function checkLayersToTransform(spec: TargetSpec, keys: string[]): void {
  const idx = spec.layersToTransform;
  if (idx === null || idx === undefined || (Array.isArray(idx) && idx.length === 0)) return;
  const wanted = Array.isArray(idx) ? idx : [idx];
  const present = new Set<number>();
  for (const k of keys) {
    const li = k ? layerIndexOf(k, spec.layersPattern) : null;
    if (li !== null) present.add(li);
  }
  const pat = spec.layersPattern;
  if (present.size === 0) {
    throw new ConfigError(`layers_pattern ${JSON.stringify(pat)} names no numbered layer list in the model, so layers_to_transform ${JSON.stringify(idx)} selects nothing`);
  }
  const count = Math.max(...present) + 1;
  const out = wanted.filter((i) => !present.has(i));
  if (out.length) {
    throw new ConfigError(`layers_to_transform ${JSON.stringify(idx)} is out of range: index ${out.join(", ")} is not a layer of the model, which has ${count} layers (0..${count - 1})`);
  }
}
