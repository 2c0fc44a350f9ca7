// Adapters loaded into a model (PeftModel.fromPretrained on bert-tiny-random, then a forward pass):
// PEFT-written adapter folders whose adapter_model.safetensors is damaged in ways a reader alone
// accepts — a tensor dropped, renamed, added, re-shaped with consistent data, of another dtype,
// holding NaN — or whose adapter_config.json disagrees with the weights (another rank, other targets).

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AutoModelForSequenceClassification } from "../../../src/models/auto.js";
import { PeftModel } from "../../../src/peft/index.js";
import { FuzzRng, INTERESTING_NUMBERS, mutatedJsonText } from "../mutate.js";
import { SHARED, type FuzzTarget } from "../target.js";
import { encodeSafetensors, mutateTensorEntry, split } from "./safetensors.js";

const ADAPTERS = ["bert-lora", "bert-ia3", "bert-prompt-tuning", "bert-lora-rslora-dora", "bert-prefix-tuning", "bert-lora-all-linear"];
const BASE = `${SHARED}golden/bert-tiny-random`;
interface Adapter { config: Record<string, unknown>; header: Record<string, any>; data: Uint8Array }
let adapters: Adapter[] = [];

/** A safetensors file of F32 tensors from (name, shape, values). */
function encodeF32(tensors: [string, number[], Float32Array][], metadata: unknown): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata ?? { format: "pt" } };
  const parts: Uint8Array[] = [];
  let off = 0;
  for (const [name, shape, values] of tensors) {
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    header[name] = { dtype: "F32", shape, data_offsets: [off, off + bytes.length] };
    off += bytes.length;
    parts.push(bytes);
  }
  const data = new Uint8Array(off);
  let at = 0;
  for (const p of parts) { data.set(p, at); at += p.length; }
  return encodeSafetensors(JSON.stringify(header), data);
}

function tensorsOf(a: Adapter): [string, number[], Float32Array][] {
  return Object.keys(a.header).filter((k) => k !== "__metadata__").map((k) => {
    const e = a.header[k];
    const bytes = a.data.slice(e.data_offsets[0], e.data_offsets[1]);
    return [k, [...e.shape], new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)];
  });
}

/** Edits that keep the file well-formed, so the loader (not the reader) has to notice. */
function semanticEdit(a: Adapter, r: FuzzRng): Uint8Array {
  const ts = tensorsOf(a);
  const k = r.int(ts.length);
  const [name, shape, values] = ts[k];
  switch (r.int(6)) {
    case 0: ts.splice(k, 1); break; // a tensor missing
    case 1: ts[k] = [name.replace(/\.(weight|lora_A|lora_B)/, r.pick([".weight2", ".lora_C", ""])) + r.pick(["", ".x"]), shape, values]; break;
    case 2: ts.push([r.pick([name + ".extra", "base_model.model.classifier.weight", "__proto__", "constructor.prototype.polluted"]), shape, values]); break;
    case 3: { // consistent data of another shape: one dimension grown, shrunk or the dims swapped
      const s = [...shape];
      if (s.length > 1 && r.chance(0.3)) s.reverse();
      else if (s.length) s[r.int(s.length)] = Math.max(0, s[r.int(s.length)] + r.pick([-1, 1, 3]));
      else s.push(r.pick([0, 1, 2]));
      ts[k] = [name, s, new Float32Array(s.reduce((x, y) => x * y, 1)).fill(0.01)];
      break;
    }
    case 4: ts[k] = [name, shape, values.map((v, i) => (i % 3 === 0 ? r.pick([NaN, Infinity, -Infinity]) : v))]; break;
    default: ts[k] = [name, shape.length ? [shape.reduce((x, y) => x * y, 1)] : [1], values]; break; // flattened
  }
  return encodeF32(ts, a.header.__metadata__);
}

/** The config disagreeing with the weights in plausible ways, or mutated as a JSON tree. */
function configEdit(cfg: Record<string, unknown>, r: FuzzRng): string {
  if (r.chance(0.5)) return mutatedJsonText(cfg, r);
  const c = structuredClone(cfg);
  const field = r.pick(["r", "lora_alpha", "target_modules", "num_virtual_tokens", "token_dim", "num_layers", "modules_to_save", "feedforward_modules", "peft_type"]);
  c[field] = r.pick<unknown>([...INTERESTING_NUMBERS.slice(0, 12), ["query"], ["dense"], "value", ["classifier"], null, "LORA", "IA3", "PREFIX_TUNING"]);
  return JSON.stringify(c);
}

export const target: FuzzTarget = {
  name: "adapter_load",
  setup() {
    adapters = ADAPTERS.map((n) => {
      const dir = `${SHARED}golden/${n}/adapter`;
      return { config: JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8")), ...split(readFileSync(join(dir, "adapter_model.safetensors"))) };
    });
  },
  async run(r, dir) {
    const a = adapters[r.int(adapters.length)];
    const mode = r.int(4);
    const weights = mode === 0 ? encodeSafetensors(JSON.stringify((() => { const h = structuredClone(a.header); mutateTensorEntry(h, r); return h; })()), a.data)
      : mode === 3 ? encodeSafetensors(JSON.stringify(a.header), a.data) : semanticEdit(a, r);
    writeFileSync(join(dir, "adapter_model.safetensors"), weights);
    writeFileSync(join(dir, "adapter_config.json"), mode === 3 || r.chance(0.15) ? configEdit(a.config, r) : JSON.stringify(a.config));
    const base = await AutoModelForSequenceClassification.fromPretrained(BASE, { log: () => {} });
    const model = await PeftModel.fromPretrained(base, dir, { warn: () => {} });
    const out = model.forward({ inputIds: [[2, 5, 7, 9, 3]], attentionMask: [[1, 1, 1, 1, 1]] });
    return { logits: Array.from(out.logits!.data.slice(0, 4)) };
  },
};
