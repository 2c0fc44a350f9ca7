// config.json (and generation_config.json): the tiny random BERT / GPT-2 / Llama configs, mutated,
// then a model built from the folder with the real weights (sizes are checked against the weights
// before anything is allocated).

import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfigFile } from "../../../src/io/hf_config.js";
import { AutoModel } from "../../../src/models/auto.js";
import { mutatedJsonText, type FuzzRng } from "../mutate.js";
import { SHARED, type FuzzTarget } from "../target.js";

const MODELS = ["bert-tiny-random", "gpt2-tiny-random", "llama-tiny-random"];
let bases: unknown[] = [];
let generation: unknown = null;

/** Size fields get extreme values more often than a blind tree mutation would give them. */
function sizeEdit(base: Record<string, unknown>, r: FuzzRng): string {
  const o = structuredClone(base);
  const keys = Object.keys(o).filter((k) => typeof o[k] === "number");
  const k = r.pick(keys);
  o[k] = r.pick([1e308, 2 ** 31, 2 ** 31 - 1, 2 ** 40, 1e6, 0, -1, 1.5, (o[k] as number) + 1, (o[k] as number) * 2, 2 ** 53 + 2]);
  return JSON.stringify(o);
}

export const target: FuzzTarget = {
  name: "config",
  setup() {
    bases = MODELS.map((m) => JSON.parse(readFileSync(`${SHARED}golden/${m}/config.json`, "utf8")));
    generation = JSON.parse(readFileSync(`${SHARED}golden/gpt2-tiny-random/generation_config.json`, "utf8"));
  },
  async run(r, dir) {
    const m = r.int(MODELS.length);
    const base = bases[m] as Record<string, unknown>;
    writeFileSync(join(dir, "config.json"), r.chance(0.4) ? sizeEdit(base, r) : mutatedJsonText(base, r));
    const config = loadConfigFile(dir);
    if (!r.chance(0.5)) return config;
    copyFileSync(`${SHARED}golden/${MODELS[m]}/model.safetensors`, join(dir, "model.safetensors"));
    if (r.chance(0.3)) writeFileSync(join(dir, "generation_config.json"), mutatedJsonText(generation, r));
    const model = await AutoModel.fromPretrained(dir);
    return { config, params: model.namedParameters().length };
  },
};
