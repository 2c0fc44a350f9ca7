// Reading one rank's slice of a tensor from safetensors files without reading the rest: a block of
// rows is one contiguous positioned read; a block of columns is read row by row (only the slice's
// bytes of each row). Float tensors only (F32, BF16, F16, F64), converted to f32 into `dst`.
import { getFiles } from "../platform/files.js";
import { join } from "../platform/paths.js";
import type { ReadHandle } from "../platform/files.js";
import { LITTLE_ENDIAN } from "./byte_order.js";
import { bf16ArrayToF32, f16ArrayToF32 } from "../tensor/dtype.js";
import { ConfigError, FormatError } from "../tensor/errors.js";
import {
  SAFETENSORS_DTYPE_SIZE, SAFETENSORS_INDEX, SAFETENSORS_SINGLE, readSafetensorsHeader, readSafetensorsIndex,
  type SafetensorsEntry, type SafetensorsHeader,
} from "./safetensors.js";

/** One tensor of a checkpoint folder: its file, that file's header and its entry. */
export interface CheckpointTensor {
  file: string;
  header: SafetensorsHeader;
  entry: SafetensorsEntry;
}

/** Every tensor of a model folder (model.safetensors or the sharded index) by name; headers only. */
export function checkpointTensors(dir: string): Map<string, CheckpointTensor> {
  const single = join(dir, SAFETENSORS_SINGLE), index = join(dir, SAFETENSORS_INDEX);
  const files: string[] = [];
  let weightMap: Map<string, string> | null = null;
  if (getFiles().exists(single)) files.push(single);
  else if (getFiles().exists(index)) {
    weightMap = readSafetensorsIndex(index).weightMap;
    for (const f of new Set(weightMap.values())) files.push(join(dir, f));
  } else throw new ConfigError(`${dir}: no ${SAFETENSORS_SINGLE} or ${SAFETENSORS_INDEX} found; expected the model weights in safetensors format`);
  const out = new Map<string, CheckpointTensor>();
  for (const file of files) {
    const header = readSafetensorsHeader(file);
    for (const [name, entry] of header.tensors) {
      if (weightMap && join(dir, weightMap.get(name) ?? "") !== file) continue;
      out.set(name, { file, header, entry });
    }
  }
  return out;
}

function readAt(fd: ReadHandle, dst: Uint8Array, position: number, file: string, name: string): void {
  let done = 0;
  while (done < dst.length) {
    const got = fd.read(dst, done, dst.length - done, position + done);
    if (got <= 0) throw new FormatError(`${file}: unexpected end of file while reading a slice of '${name}'`);
    done += got;
  }
}

function toF32(raw: Uint8Array, dtype: string, dst: Float32Array, at: number, count: number): void {
  const width = SAFETENSORS_DTYPE_SIZE[dtype];
  if (!LITTLE_ENDIAN) {
    for (let i = 0; i + width <= raw.length; i += width) raw.subarray(i, i + width).reverse();
  }
  const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
  const out = dst.subarray(at, at + count);
  if (dtype === "F32") out.set(new Float32Array(buf));
  else if (dtype === "BF16") bf16ArrayToF32(new Uint16Array(buf), out);
  else if (dtype === "F16") f16ArrayToF32(new Uint16Array(buf), out);
  else out.set(new Float64Array(buf));
}

/**
 * Reads elements start…start+count along `dim` (0: rows, 1: columns of a 2-d tensor) of tensor
 * `name` into dst (f32, row-major, the slice's shape). dim 0 of a 1-d tensor is a range of elements.
 */
export function readTensorSlice(t: CheckpointTensor, name: string, dim: 0 | 1, start: number, count: number, dst: Float32Array): void {
  const { file, header, entry } = t;
  if (!["F32", "BF16", "F16", "F64"].includes(entry.dtype)) throw new FormatError(`${file}: tensor '${name}' has dtype ${entry.dtype}; only float tensors can be read in slices`);
  const shape = entry.shape, width = SAFETENSORS_DTYPE_SIZE[entry.dtype];
  if (shape.length > 2 || (dim === 1 && shape.length !== 2) || start < 0 || start + count > (shape[dim] ?? 1)) {
    throw new FormatError(`${file}: cannot read ${count} entries from ${start} along dim ${dim} of '${name}' [${shape}]`);
  }
  const inner = shape.length === 2 ? shape[1] : 1;
  const rows = dim === 0 ? count : shape[0];
  const rowElems = dim === 0 ? inner : count;
  if (dst.length !== rows * rowElems) throw new FormatError(`readTensorSlice: destination of ${dst.length} floats for a slice of ${rows * rowElems}`);
  const fd = getFiles().openRead(file);
  try {
    const base = header.dataOffset + entry.begin;
    if (dim === 0) {
      const raw = new Uint8Array(count * inner * width);
      readAt(fd, raw, base + start * inner * width, file, name);
      toF32(raw, entry.dtype, dst, 0, count * inner);
    } else {
      const raw = new Uint8Array(count * width);
      for (let i = 0; i < rows; i++) {
        readAt(fd, raw, base + (i * inner + start) * width, file, name);
        toF32(raw, entry.dtype, dst, i * count, count);
      }
    }
  } finally {
    fd.close();
  }
}
