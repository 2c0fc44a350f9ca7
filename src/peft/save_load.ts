// Adapter files in PEFT's layout: adapter_config.json + adapter_model.safetensors ({"format":"pt"}),
// keys without the adapter name (`…query.lora_A.weight`, `…classifier.weight`, `prompt_embeddings`).
// The default adapter goes into the folder itself, any other into a subfolder named after it.
// Loading maps each saved key back to its in-memory tensor and checks every shape first.

import { getFiles } from "../platform/files.js";
import { join } from "../platform/paths.js";
import { Tensor } from "../tensor/tensor.js";
import { noGrad } from "../tensor/autograd.js";
import { FormatError, PeftError, ShapeError } from "../tensor/errors.js";
import { assertInside } from "../io/fs.js";
import { loadSafetensors, saveSafetensors } from "../io/safetensors.js";
import { WEIGHTS_NAME } from "./config.js";

export interface StateEntry {
  /** Name in the PeftModel (`base_model.model.…lora_A.default.weight`). */
  memKey: string;
  /** Name in adapter_model.safetensors (`base_model.model.…lora_A.weight`). */
  savedKey: string;
  tensor: Tensor;
}

/** Adapter names become folder names and key segments: keep them to a safe alphabet. */
export function checkAdapterName(name: string): void {
  if (typeof name !== "string" || !/^[A-Za-z0-9_-]+$/.test(name) || name.length > 128) {
    throw new PeftError(`invalid adapter name ${JSON.stringify(name)}: use letters, digits, '_' or '-' (it becomes a folder name and part of parameter names)`);
  }
}

/** Folder of one adapter inside a save directory (subfolder for non-default adapters), checked to stay inside. */
export function adapterDir(root: string, adapterName: string): string {
  checkAdapterName(adapterName);
  return adapterName === "default" ? root : assertInside(root, adapterName, "adapter folder");
}

/** Writes the tensors of `entries` under their saved names. */
export function saveAdapterWeights(dir: string, entries: StateEntry[]): void {
  const out = new Map<string, Tensor>();
  for (const e of entries) {
    if (out.has(e.savedKey)) throw new PeftError(`two adapter tensors map to the saved key '${e.savedKey}'`);
    out.set(e.savedKey, e.tensor.contiguous().detach());
  }
  saveSafetensors(join(dir, WEIGHTS_NAME), out, { format: "pt" });
}

/** Reads adapter_model.safetensors from `dir` (FormatError for a missing or corrupt file). */
export function readAdapterWeights(dir: string): Map<string, Tensor> {
  const path = join(dir, WEIGHTS_NAME);
  if (!getFiles().exists(path)) {
    if (getFiles().exists(join(dir, "adapter_model.bin"))) throw new FormatError(`${dir}: only adapter_model.bin (pickle) found; peft-ts reads safetensors only — re-save with safe_serialization=True`);
    throw new FormatError(`${dir}: no ${WEIGHTS_NAME}`);
  }
  return loadSafetensors(path);
}

/**
 * Copies saved tensors into the adapter's in-memory tensors. Every key must map to an entry
 * and every shape must match (checked before anything is written); entries missing from the
 * file are reported through `warn`.
 */
export function loadAdapterWeights(entries: StateEntry[], tensors: Map<string, Tensor>, source: string, warn: (m: string) => void): void {
  const bySaved = new Map(entries.map((e) => [e.savedKey, e]));
  const unexpected = [...tensors.keys()].filter((k) => !bySaved.has(k));
  if (unexpected.length) {
    throw new FormatError(
      `${source}: unexpected tensor(s) ${unexpected.slice(0, 5).map((k) => `'${k}'`).join(", ")}${unexpected.length > 5 ? ` (+${unexpected.length - 5} more)` : ""}; ` +
        `this adapter expects: ${[...bySaved.keys()].slice(0, 5).map((k) => `'${k}'`).join(", ")}${bySaved.size > 5 ? ", …" : ""}`,
    );
  }
  for (const [k, t] of tensors) {
    const e = bySaved.get(k)!;
    if (t.shape.length !== e.tensor.shape.length || t.shape.some((d, i) => d !== e.tensor.shape[i])) {
      throw new ShapeError(`${source}: tensor '${k}' has shape [${t.shape}] but the model expects [${e.tensor.shape}] for '${e.memKey}' (does the adapter fit this base model and config?)`);
    }
    if (t.dtype !== "f32" && t.dtype !== "bf16" && t.dtype !== "f16") throw new FormatError(`${source}: tensor '${k}' has dtype ${t.dtype}, expected a float type`);
  }
  noGrad(() => {
    for (const [k, t] of tensors) {
      const dst = bySaved.get(k)!.tensor;
      if (dst.dtype === "f32" && dst.isContiguous()) (dst.data as Float32Array).set(t.f32());
      else throw new PeftError(`cannot load '${k}' into a ${dst.dtype} non-contiguous tensor`);
    }
  });
  const missing = entries.filter((e) => !tensors.has(e.savedKey)).map((e) => e.savedKey);
  if (missing.length) warn(`${source}: missing adapter keys (left as initialised): ${missing.slice(0, 8).join(", ")}${missing.length > 8 ? ", …" : ""}`);
}
