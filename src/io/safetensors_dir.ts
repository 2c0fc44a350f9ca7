// safetensors model folders: model.safetensors, or shards listed by model.safetensors.index.json (validated).

import { getFiles } from "../platform/files.js";
import { join } from "../platform/paths.js";
import type { Tensor } from "../tensor/tensor.js";
import { ConfigError, FormatError } from "../tensor/errors.js";
import { JsonSyntaxError, parseStrictJson } from "./json.js";
import { describe, readSafetensorsHeader } from "./safetensors_header.js";
import { loadSafetensors, LoadSafetensorsOptions } from "./safetensors_read.js";
import { refusePickleWeights } from "./weights_format.js";

export const SAFETENSORS_SINGLE = "model.safetensors";
export const SAFETENSORS_INDEX = "model.safetensors.index.json";

/** Reads and validates a sharded index (`weight_map`: tensor name → shard file name). */
export function readSafetensorsIndex(indexPath: string): { weightMap: Map<string, string>; metadata: Record<string, unknown> } {
  let parsed: unknown;
  try {
    parsed = parseStrictJson(getFiles().readText(indexPath));
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw new FormatError(`${indexPath}: not valid JSON: ${e.message}`);
    throw e;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new FormatError(`${indexPath}: expected a JSON object`);
  const wm = (parsed as Record<string, unknown>).weight_map;
  if (wm === null || typeof wm !== "object" || Array.isArray(wm)) {
    throw new FormatError(`${indexPath}: "weight_map" must be an object of tensor name → shard file, found ${describe(wm)}`);
  }
  const weightMap = new Map<string, string>();
  for (const [k, v] of Object.entries(wm as Record<string, unknown>)) {
    if (typeof v !== "string" || v === "" || v.includes("/") || v.includes("\\") || v === "." || v === "..") {
      throw new FormatError(`${indexPath}: weight_map["${k}"] must be a shard file name in the same folder, found ${describe(v)}`);
    }
    weightMap.set(k, v);
  }
  const md = (parsed as Record<string, unknown>).metadata;
  return { weightMap, metadata: md && typeof md === "object" && !Array.isArray(md) ? { ...(md as Record<string, unknown>) } : {} };
}

/**
 * Loads a model folder's weights: `model.safetensors`, or the shards listed by
 * `model.safetensors.index.json` (merged into one Map). Each tensor must be in the shard the
 * index names. `names` filters as in loadSafetensors.
 */
export function loadSafetensorsDir(dir: string, opts: LoadSafetensorsOptions = {}): Map<string, Tensor> {
  const single = join(dir, SAFETENSORS_SINGLE);
  const index = join(dir, SAFETENSORS_INDEX);
  if (getFiles().exists(single)) return loadSafetensors(single, opts);
  if (!getFiles().exists(index)) {
    refusePickleWeights(dir);
    throw new ConfigError(`${dir}: no ${SAFETENSORS_SINGLE} or ${SAFETENSORS_INDEX} found; expected the model weights in safetensors format`);
  }
  const { weightMap } = readSafetensorsIndex(index);
  let wanted: string[];
  if (opts.names === undefined) wanted = [...weightMap.keys()];
  else if (typeof opts.names === "function") wanted = [...weightMap.keys()].filter(opts.names);
  else {
    for (const n of opts.names) if (!weightMap.has(n)) throw new FormatError(`${index}: tensor '${n}' is not in weight_map`);
    wanted = [...new Set(opts.names)];
  }
  const byShard = new Map<string, string[]>();
  for (const n of wanted) {
    const s = weightMap.get(n)!;
    if (!byShard.has(s)) byShard.set(s, []);
    byShard.get(s)!.push(n);
  }
  const out = new Map<string, Tensor>();
  for (const [shard, names] of byShard) {
    const p = join(dir, shard);
    if (!getFiles().exists(p)) throw new FormatError(`${index}: shard '${shard}' (holding e.g. '${names[0]}') is missing from ${dir}`);
    const header = readSafetensorsHeader(p);
    for (const n of names) {
      if (!header.tensors.has(n)) throw new FormatError(`${index}: weight_map puts '${n}' in shard '${shard}', but ${p} has no such tensor`);
    }
    for (const [k, v] of loadSafetensors(p, { ...opts, names })) out.set(k, v);
  }
  return out;
}
