// safetensors reader/writer (https://huggingface.co/docs/safetensors).
// Layout: u64 little-endian header length N, N bytes of JSON header, then the data region.
// The header maps names to {dtype, shape, data_offsets:[begin,end]} (relative to the data
// region) plus an optional "__metadata__" string→string map. Everything is validated before use.
//
// Reading converts on the way in; dtype mapping (default dtype "f32"):
//   F32/F16/BF16 → f32 (or kept as f16/bf16 with dtype "keep", or bf16 where opts.bf16(name))
//   F64 → f32 (precision loss; we compute in f32)   I64 → i64   U64 → i64 (error if > 2^63-1)
//   I32 → i32   U32 → i64   I16/U16/I8 → i32   U8 → u8   BOOL → bool
// Writing supports the Tensor dtypes F32/BF16/F16/I64/I32/U8/BOOL and reproduces the Rust
// writer's layout byte for byte: tensors ordered by dtype (larger alignment first) then name,
// header JSON padded with spaces to a multiple of 8.

// This module gathers the parts: safetensors_header.ts (header parsing/validation), safetensors_read.ts
// (loading + dtype conversion), safetensors_dir.ts (model folders and sharded indexes) and
// safetensors_write.ts (atomic writing).

export { MAX_HEADER_BYTES, readSafetensorsHeader, SAFETENSORS_DTYPE_SIZE } from "./safetensors_header.js";
export type { SafetensorsEntry, SafetensorsHeader } from "./safetensors_header.js";
export { loadSafetensors } from "./safetensors_read.js";
export type { LoadSafetensorsOptions } from "./safetensors_read.js";
export { loadSafetensorsDir, readSafetensorsIndex, SAFETENSORS_INDEX, SAFETENSORS_SINGLE } from "./safetensors_dir.js";
export { saveSafetensors } from "./safetensors_write.js";
