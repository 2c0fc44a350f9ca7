// The fuzz targets, one file each, loaded by name in the child process.

import type { FuzzTarget } from "../target.js";

const LOADERS: Record<string, () => Promise<{ target: FuzzTarget }>> = {
  safetensors: () => import("./safetensors.js"),
  adapter_config: () => import("./adapter_config.js"),
  adapter_load: () => import("./adapter_load.js"),
  config: () => import("./config.js"),
  tokenizer: () => import("./tokenizer.js"),
  vocab: () => import("./vocab.js"),
  checkpoint: () => import("./checkpoint.js"),
  datasets: () => import("./datasets.js"),
  llama2c: () => import("./llama2c.js"),
};

export const TARGET_NAMES = Object.keys(LOADERS);

export async function loadTarget(name: string): Promise<FuzzTarget> {
  const load = LOADERS[name];
  if (!load) throw new Error(`unknown fuzz target '${name}'`);
  return (await load()).target;
}

/** A per-target number mixed into every case's seed, so targets do not share random streams. */
export function targetSeed(name: string): number {
  let h = 0;
  for (let k = 0; k < name.length; k++) h = (Math.imul(h, 31) + name.charCodeAt(k)) >>> 0;
  return h;
}
