// safetensors writing: the Rust writer's exact layout (dtype-then-name order, space-padded header), written atomically.

import { Tensor } from "../tensor/tensor.js";
import { DType, Storage } from "../tensor/dtype.js";
import { ConfigError } from "../tensor/errors.js";
import { atomicWriteWith } from "./fs.js";
import { LITTLE_ENDIAN, swapBytesInPlace } from "./byte_order.js";
import { SAFETENSORS_DTYPE_SIZE } from "./safetensors_header.js";

// The Rust writer sorts by this enum order, descending (largest alignment first), then by name.
const DTYPE_RANK: Readonly<Record<string, number>> = {
  BOOL: 0, F4: 1, F6_E2M3: 2, F6_E3M2: 3, U8: 4, I8: 5, F8_E5M2: 6, F8_E4M3: 7, F8_E8M0: 8,
  I16: 9, U16: 10, F16: 11, BF16: 12, I32: 13, U32: 14, F32: 15, C64: 16, F64: 17, I64: 18, U64: 19,
};

const TENSOR_TO_ST: Readonly<Record<DType, string>> = {
  f32: "F32", bf16: "BF16", f16: "F16", i64: "I64", i32: "I32", u8: "U8", bool: "BOOL",
};

function tensorBytes(t: Tensor): Uint8Array {
  const d = t.data as Storage; // contiguous (a copy for strided views)
  const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const copy = bytes.slice();
  swapBytesInPlace(copy, d.BYTES_PER_ELEMENT);
  return copy;
}

/** The header JSON exactly as the Rust writer produces it, and the data order. */
function buildHeader(file: string, entries: [string, Tensor][], metadata: Record<string, string> | null): { header: Uint8Array; order: [string, Tensor][] } {
  const order = entries.slice().sort((a, b) => {
    const ra = DTYPE_RANK[TENSOR_TO_ST[a[1].dtype]], rb = DTYPE_RANK[TENSOR_TO_ST[b[1].dtype]];
    if (ra !== rb) return rb - ra;
    return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
  });
  const parts: string[] = [];
  if (metadata) {
    const md = Object.keys(metadata).sort().map((k) => {
      if (typeof metadata[k] !== "string") throw new ConfigError(`saveSafetensors(${file}): metadata["${k}"] must be a string`);
      return `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`;
    });
    parts.push(`"__metadata__":{${md.join(",")}}`);
  }
  let offset = 0;
  for (const [name, t] of order) {
    const n = t.size * (SAFETENSORS_DTYPE_SIZE[TENSOR_TO_ST[t.dtype]]);
    parts.push(`${JSON.stringify(name)}:{"dtype":"${TENSOR_TO_ST[t.dtype]}","shape":[${t.shape.join(",")}],"data_offsets":[${offset},${offset + n}]}`);
    offset += n;
  }
  let json = `{${parts.join(",")}}`;
  const len = new TextEncoder().encode(json).length;
  json += " ".repeat((8 - (len % 8)) % 8);
  return { header: new TextEncoder().encode(json), order };
}

/**
 * Writes tensors to a .safetensors file atomically. `metadata` defaults to {"format":"pt"}
 * (what transformers/peft write for model and adapter files); pass null for no metadata.
 */
export function saveSafetensors(
  path: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata: Record<string, string> | null = { format: "pt" },
): void {
  const entries: [string, Tensor][] = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, t] of entries) {
    if (name === "__metadata__") throw new ConfigError(`saveSafetensors(${path}): '__metadata__' is reserved and cannot be a tensor name`);
    if (!(t instanceof Tensor)) throw new ConfigError(`saveSafetensors(${path}): '${name}' is not a Tensor`);
    if (!(t.dtype in TENSOR_TO_ST)) throw new ConfigError(`saveSafetensors(${path}): tensor '${name}' has unsupported dtype ${t.dtype}`);
  }
  const { header, order } = buildHeader(path, entries, metadata);
  const lenBytes = new Uint8Array(8);
  new DataView(lenBytes.buffer).setBigUint64(0, BigInt(header.length), true);
  atomicWriteWith(path, (out) => {
    // Small writes are gathered into one buffer; large tensors are written directly.
    const pending: Uint8Array[] = [lenBytes, header];
    let pendingBytes = 8 + header.length;
    const flush = () => {
      if (pending.length === 0) return;
      const buf = new Uint8Array(pendingBytes);
      let o = 0;
      for (const p of pending) { buf.set(p, o); o += p.length; }
      out.write(buf);
      pending.length = 0;
      pendingBytes = 0;
    };
    for (const [, t] of order) {
      const b = tensorBytes(t);
      if (b.length >= 1 << 20) {
        flush();
        out.write(b);
      } else {
        pending.push(b);
        pendingBytes += b.length;
        if (pendingBytes >= 1 << 22) flush();
      }
    }
    flush();
  });
}
