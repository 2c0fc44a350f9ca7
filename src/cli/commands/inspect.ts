// peft-ts inspect: what a model (and optionally an adapter or a PEFT config) looks like: its
// config, parameter counts, the module names a PEFT config can target, and the trainable
// parameters a given --peft config would have.

import { existsSync } from "node:fs";
import { readJsonFileChecked } from "../../io/json.js";
import { join } from "node:path";
import type { Opts } from "../resolve.js";
import { isExplicit } from "../resolve.js";
import { applyPeft, buildPeftConfig, loadModelWithAdapter } from "../pipeline.js";
import { layerKind } from "../../peft/containers.js";
import { PeftModel } from "../../peft/index.js";
import type { Module } from "../../nn/module.js";
import { loadSafetensors } from "../../io/safetensors.js";
import { adapterDelta, adapterDeltaFromTensors, adapterDeltaJSON, formatAdapterDelta, type LoraScalingConfig, type ModuleDelta } from "../../explain/index.js";
import { CliError } from "../errors.js";

const fmt = (n: number) => n.toLocaleString("en-US");

function countParams(m: Module): { all: number; trainable: number } {
  let all = 0, trainable = 0;
  const seen = new Set<unknown>();
  for (const [, p] of m.namedParameters()) {
    if (seen.has(p)) continue;
    seen.add(p);
    all += p.size;
    if (p.requiresGrad) trainable += p.size;
  }
  return { all, trainable };
}

/** Linear-like modules grouped by their last name component (what target_modules matches). */
function targetable(m: Module): { name: string; kind: string; count: number; shape: string }[] {
  const by = new Map<string, { name: string; kind: string; count: number; shape: string }>();
  for (const [key, sub] of m.namedModules()) {
    if (!key) continue;
    const kind = layerKind(sub);
    if (kind === "other") continue;
    const last = key.split(".").pop()!;
    const w = (sub as unknown as { weight?: { shape: number[] } }).weight;
    const shape = w ? `[${w.shape.join(", ")}]` : "";
    const e = by.get(last + kind) ?? { name: last, kind, count: 0, shape };
    if (e.shape !== shape && !e.shape.includes(shape)) e.shape += ` ${shape}`;
    e.count++;
    by.set(last + kind, e);
  }
  return [...by.values()];
}

/** What a LoRA adapter changed, printed (or as JSON) when there is no model to load (`inspect --adapter DIR`). */
function adapterOnly(opts: Opts): number {
  const adapter = String(opts.adapter);
  const cfgPath = join(adapter, "adapter_config.json"), weights = join(adapter, "adapter_model.safetensors");
  if (!existsSync(cfgPath)) throw new CliError(`--adapter: no adapter_config.json in ${adapter}`);
  if (!existsSync(weights)) throw new CliError(`--adapter: no adapter_model.safetensors in ${adapter}`);
  const cfg = readJsonFileChecked(cfgPath, "adapter_config.json") as Record<string, unknown>;
  const deltas = cfg.peft_type === "LORA" ? adapterDeltaFromTensors(loadSafetensors(weights), cfg as LoraScalingConfig) : null;
  if (opts.json === true) {
    process.stdout.write(JSON.stringify({ adapter: { path: adapter, adapter_config: cfg }, adapter_delta: deltas ? adapterDeltaJSON(deltas) : null }, null, 2) + "\n");
    return 0;
  }
  const out = [`adapter     ${adapter}`, `  peft_type ${cfg.peft_type}  task_type ${cfg.task_type}  base ${cfg.base_model_name_or_path}`];
  out.push(...deltaLines(deltas, "(without -m the base weights are unknown: ‖W‖ and the ratio need the model)"));
  process.stdout.write(out.join("\n") + "\n");
  return 0;
}

function deltaLines(deltas: ModuleDelta[] | null, note: string): string[] {
  if (!deltas) return ["", "what the adapter changed: only for LoRA adapters (ΔW = s·B·A)"];
  return ["", `what the adapter changed (ΔW = s·B·A per module; effective rank = exp(entropy of σ/Σσ)) ${note}`.trimEnd(), ...formatAdapterDelta(deltas).map((l) => `  ${l}`)];
}

export async function run(opts: Opts): Promise<number> {
  if (opts.adapter && (opts.model_name_or_path === undefined || opts.model_name_or_path === "")) return adapterOnly(opts);
  const { dir, task, base, model } = await loadModelWithAdapter(opts);
  const config = readJsonFileChecked(join(dir, "config.json"), "config.json") as Record<string, unknown>;
  const report: Record<string, unknown> = {
    model: dir,
    task: task.name,
    model_type: config.model_type,
    architectures: config.architectures,
    class: base.constructor.name,
    config: Object.fromEntries(["hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size", "vocab_size", "max_position_embeddings", "n_embd", "n_layer", "n_head"].filter((k) => config[k] !== undefined).map((k) => [k, config[k]])),
    parameters: 0,
    target_modules: [] as ReturnType<typeof targetable>,
  };
  // counts and names of the plain model (an adapter, once loaded, wraps the modules it targets)
  const plain = model instanceof PeftModel ? await task.loadModel(dir, { numLabels: (base.config as { numLabels?: number }).numLabels }) : base;
  report.parameters = countParams(plain).all;
  report.target_modules = targetable(plain);
  if (model instanceof PeftModel) {
    const adapter = String(opts.adapter);
    const cfg = readJsonFileChecked(join(adapter, "adapter_config.json"), "adapter_config.json");
    const [, all] = model.getNbTrainableParameters();
    const adapterParams = model.adapterStateEntries(model.activeAdapter).reduce((a, e) => a + e.tensor.size, 0);
    report.adapter = { path: adapter, adapter_config: cfg, adapter_parameters: adapterParams, all_parameters: all };
    if ((cfg as { peft_type?: unknown }).peft_type === "LORA") report.adapter_delta = adapterDeltaJSON(adapterDelta(model));
  }
  const wantPeft = !(model instanceof PeftModel) && (isExplicit(opts, "peft") || ["lora_r", "target_modules", "num_virtual_tokens", "use_dora", "use_rslora"].some((k) => isExplicit(opts, k)));
  if (wantPeft) {
    const peftCfg = buildPeftConfig(opts, task, dir);
    const wrapped = applyPeft(base, peftCfg);
    const { all, trainable } = countParams(wrapped);
    report.peft = {
      method: opts.peft,
      config: peftCfg ? peftCfg.toJSON() : null,
      trainable_params: trainable,
      all_params: all,
      trainable_percent: (100 * trainable) / all,
      targeted: wrapped instanceof PeftModel && !wrapped.isPromptLearning ? (wrapped.peftConfig.get("default") as unknown as { targetModules: unknown }).targetModules : null,
    };
  }
  if (opts.json === true) {
    process.stdout.write(JSON.stringify(report, null, 2) + "\n");
    return 0;
  }
  const out: string[] = [];
  out.push(`model       ${dir}`);
  out.push(`type        ${String(config.model_type)} (${base.constructor.name}, task ${task.name})`);
  out.push(`config      ${Object.entries(report.config as Record<string, unknown>).map(([k, v]) => `${k}=${v}`).join(" ")}`);
  out.push(`parameters  ${fmt(report.parameters as number)}`);
  out.push("");
  out.push("target_modules (matched by name; \"all-linear\" = every linear layer except the output head):");
  for (const t of report.target_modules as { name: string; kind: string; count: number; shape: string }[]) {
    out.push(`  ${t.name.padEnd(24)} ${t.kind.padEnd(10)} x${String(t.count).padEnd(4)} ${t.shape}`);
  }
  if (report.adapter) {
    const a = report.adapter as { path: string; adapter_config: Record<string, unknown>; adapter_parameters: number };
    out.push("");
    out.push(`adapter     ${a.path}`);
    out.push(`  peft_type ${a.adapter_config.peft_type}  task_type ${a.adapter_config.task_type}  base ${a.adapter_config.base_model_name_or_path}`);
    for (const k of ["r", "lora_alpha", "target_modules", "modules_to_save", "use_rslora", "use_dora", "num_virtual_tokens"]) {
      if (a.adapter_config[k] !== undefined && a.adapter_config[k] !== null) out.push(`  ${k.padEnd(16)} ${JSON.stringify(a.adapter_config[k])}`);
    }
    out.push(`  adapter parameters ${fmt(a.adapter_parameters)}`);
    out.push(...deltaLines(model instanceof PeftModel && a.adapter_config.peft_type === "LORA" ? adapterDelta(model) : null, ""));
  }
  if (report.peft) {
    const p = report.peft as { method: string; trainable_params: number; all_params: number; trainable_percent: number; targeted: unknown };
    out.push("");
    out.push(`peft ${p.method}: trainable params: ${fmt(p.trainable_params)} || all params: ${fmt(p.all_params)} || trainable%: ${p.trainable_percent.toFixed(4)}`);
    if (Array.isArray(p.targeted)) {
      const leaves = [...new Set((p.targeted as string[]).map((k) => k.split(".").pop()!))];
      out.push(`  adapted: ${(p.targeted as string[]).length} modules (${leaves.join(", ")})`);
    } else if (p.targeted) out.push(`  target_modules: ${JSON.stringify(p.targeted)}`);
  }
  process.stdout.write(out.join("\n") + "\n");
  void existsSync;
  return 0;
}
