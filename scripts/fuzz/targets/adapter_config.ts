// adapter_config.json: every PEFT-written adapter config in the golden outputs, mutated as JSON trees and as text.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadPeftConfig } from "../../../src/peft/index.js";
import { mutatedJsonText } from "../mutate.js";
import { SHARED, type FuzzTarget } from "../target.js";

const FILES = [
  "llama-tiny-random/lora/adapter", "bert-prompt-tuning/adapter", "gpt2-tiny-random/lora/adapter", "bert-ia3/adapter",
  "bert-lora/adapter", "bert-lora-rslora-dora/adapter", "bert-multi-adapter/adapters/other", "bert-lora-all-linear/adapter",
  "bert-prefix-tuning/adapter",
];
let bases: unknown[] = [];

export const target: FuzzTarget = {
  name: "adapter_config",
  setup() {
    bases = FILES.map((f) => JSON.parse(readFileSync(`${SHARED}golden/${f}/adapter_config.json`, "utf8")));
  },
  run(r, dir) {
    writeFileSync(join(dir, "adapter_config.json"), mutatedJsonText(bases[r.int(bases.length)], r));
    const cfg = loadPeftConfig(dir, () => {});
    return { cfg, json: cfg.toJsonString() };
  },
};
