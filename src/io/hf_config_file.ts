// config.json files: loading from a folder, file or hub id (AutoConfig), and the JSON written back.

import { getFiles } from "../platform/files.js";
import { join } from "../platform/paths.js";
import { ConfigError } from "../tensor/errors.js";
import { resolveModelDir } from "./hub.js";
import { readJsonFileChecked } from "./json.js";
import type { PretrainedConfig } from "./hf_config_types.js";
import { parseConfig } from "./hf_config_parse.js";

async function resolveDir(dirOrId: string): Promise<string> {
  if (getFiles().exists(dirOrId)) return dirOrId;
  return resolveModelDir(dirOrId);
}

/** Resolves a model folder (or hub id through the local cache) to its path. */
export async function resolveModelPath(dirOrId: string): Promise<string> {
  return resolveDir(dirOrId);
}

/** Reads <dir>/config.json (or a config file path). */
export function loadConfigFile(path: string): PretrainedConfig {
  const file = getFiles().exists(path) && getFiles().stat(path).isDirectory ? join(path, "config.json") : path;
  if (!getFiles().exists(file)) throw new ConfigError(`${file}: config.json not found`);
  return parseConfig(readJsonFileChecked(file, "config.json"), file);
}

export async function loadConfig(dirOrId: string): Promise<PretrainedConfig> {
  return loadConfigFile(await resolveDir(dirOrId));
}

/** config.json contents in HF spelling: the original JSON with typed changes (labels, architectures) overlaid. */
export function configToJSON(config: PretrainedConfig, architectures?: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config.raw };
  out.model_type = config.modelType;
  if (architectures) out.architectures = architectures;
  const defaultLabels = config.numLabels === 2 && config.id2label[0] === "LABEL_0" && config.id2label[1] === "LABEL_1";
  if (!defaultLabels || out.id2label !== undefined) {
    out.id2label = Object.fromEntries(Object.entries(config.id2label).map(([k, v]) => [String(k), v]));
    out.label2id = { ...config.label2id };
    delete out.num_labels;
  }
  if (config.problemType !== null) out.problem_type = config.problemType;
  const sorted: Record<string, unknown> = {};
  for (const k of Object.keys(out).sort()) sorted[k] = out[k];
  return sorted;
}

export const AutoConfig = {
  fromPretrained: loadConfig,
  /** For a plain object (e.g. built in code) rather than a folder. */
  fromDict: (json: Record<string, unknown>) => parseConfig(json, "<object>"),
};
