// safetensors: header JSON (dtypes, shapes, offsets, metadata), the length prefix, truncation and
// raw bytes, of single files and of sharded folders (model.safetensors.index.json).

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadSafetensors, loadSafetensorsDir } from "../../../src/io/safetensors.js";
import { concatBytes, FuzzRng, interestingJson, INTERESTING_NUMBERS, mutateBytes, mutatedJsonText } from "../mutate.js";
import { SHARED, type FuzzTarget } from "../target.js";

interface Base { header: Record<string, any>; data: Uint8Array }
let bases: Base[] = [];

export function split(bytes: Uint8Array): Base {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))), data: bytes.slice(8 + n) };
}

export function encodeSafetensors(headerText: string, data: Uint8Array, lengthOverride?: bigint): Uint8Array {
  const h = new TextEncoder().encode(headerText);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, lengthOverride ?? BigInt(h.length), true);
  return concatBytes(len, h, data);
}

const DTYPES = ["F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "U16", "U32", "U64", "BOOL", "F8_E4M3", "F8_E5M2", "f32", "Q4", ""];

/** Tensor-aware header edits: dtype, shape and offsets of one tensor. */
export function mutateTensorEntry(header: Record<string, any>, r: FuzzRng): void {
  const names = Object.keys(header).filter((k) => k !== "__metadata__");
  if (!names.length) return;
  const e = header[r.pick(names)];
  if (!e || typeof e !== "object") return;
  switch (r.int(5)) {
    case 0: e.dtype = r.pick(DTYPES); break;
    case 1: if (Array.isArray(e.shape) && e.shape.length) e.shape[r.int(e.shape.length)] = r.pick(INTERESTING_NUMBERS); else e.shape = [r.pick(INTERESTING_NUMBERS)]; break;
    case 2: if (Array.isArray(e.data_offsets)) e.data_offsets[r.int(2)] += r.pick([1, -1, 4, -4, 2 ** 32, 2 ** 53]); break;
    case 3: e.shape = r.chance(0.5) || !Array.isArray(e.shape) ? [] : [...e.shape, 1]; break;
    default: e[r.pick(["dtype", "shape", "data_offsets"])] = interestingJson(r);
  }
}

function oneFile(r: FuzzRng, b: Base): Uint8Array {
  const mode = r.int(6);
  if (mode === 0) return mutateBytes(encodeSafetensors(JSON.stringify(b.header), b.data), r);
  if (mode === 1) return encodeSafetensors(JSON.stringify(b.header), b.data, BigInt.asUintN(64, BigInt(Math.trunc(r.pick(INTERESTING_NUMBERS)))));
  if (mode === 2) return encodeSafetensors(JSON.stringify(b.header), b.data.slice(0, r.int(b.data.length + 1)));
  if (mode === 3) {
    const h = structuredClone(b.header);
    const n = 1 + r.int(3);
    for (let k = 0; k < n; k++) mutateTensorEntry(h, r);
    return encodeSafetensors(JSON.stringify(h), b.data);
  }
  return encodeSafetensors(mutatedJsonText(b.header, r), b.data);
}

/** A two-shard folder with an index; the index or one shard is damaged. */
function shardedFolder(r: FuzzRng, b: Base, dir: string): void {
  const names = Object.keys(b.header).filter((k) => k !== "__metadata__");
  const half = Math.max(1, names.length >> 1);
  const weightMap: Record<string, string> = {};
  const shards = [names.slice(0, half), names.slice(half)];
  shards.forEach((ns, s) => {
    const file = `model-0000${s + 1}-of-00002.safetensors`;
    const h: Record<string, unknown> = {};
    const parts: Uint8Array[] = [];
    let off = 0;
    for (const n of ns) {
      const e = b.header[n];
      const bytes = b.data.slice(e.data_offsets[0], e.data_offsets[1]);
      h[n] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + bytes.length] };
      off += bytes.length;
      parts.push(bytes);
      weightMap[n] = file;
    }
    let fileBytes = encodeSafetensors(JSON.stringify(h), concatBytes(...parts));
    if (s === 1 && r.chance(0.3)) fileBytes = mutateBytes(fileBytes, r);
    writeFileSync(join(dir, file), fileBytes);
  });
  const index = { metadata: { total_size: b.data.length }, weight_map: weightMap };
  writeFileSync(join(dir, "model.safetensors.index.json"), r.chance(0.7) ? mutatedJsonText(index, r) : JSON.stringify(index));
}

export const target: FuzzTarget = {
  name: "safetensors",
  setup() {
    bases = [
      `${SHARED}golden/bert-lora/adapter/adapter_model.safetensors`,
      `${SHARED}golden/gpt2-tiny-random/lora/adapter/adapter_model.safetensors`,
      `${SHARED}golden/bert-tiny-random/golden_outputs.safetensors`,
      `${SHARED}golden/bert-tiny-random/model.safetensors`,
    ].map((p) => split(readFileSync(p)));
  },
  run(r, dir) {
    const b = bases[r.int(bases.length)];
    if (r.chance(0.15)) {
      shardedFolder(r, b, dir);
      return loadSafetensorsDir(dir);
    }
    const path = join(dir, "model.safetensors");
    writeFileSync(path, oneFile(r, b));
    if (r.chance(0.2)) return loadSafetensorsDir(dir, { dtype: "keep" });
    return loadSafetensors(path, r.chance(0.2) ? { names: (n) => n.length % 2 === 0, bf16: () => true } : {});
  },
};
