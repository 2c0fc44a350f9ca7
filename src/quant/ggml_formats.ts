// GGUF's block types (Q8_0, Q4_0, Q4_1, Q4_K, Q6_K) as QuantFormats, so a GGUF file's quantised Linear
// weights stay in their ggml blocks and run through the dequant-in-GEMM kernels (a row block at a
// time, src/quant/quant_gemm.ts) like the bitsandbytes formats. A QuantMatrix of these formats holds
// the ggml bytes as they are (the scales inside each block: absmax and nested are null). Names are the
// ggml type names in lower case ("q8_0"). Q4_K/Q6_K can be read but not produced (quantize throws).

import { registerQuantFormat, type QuantFormat, type QuantMatrix } from "./format.js";
import { GGML_CODECS, type GgmlCodec } from "./ggml_blocks.js";

const BITS: Record<string, number> = { Q8_0: 8, Q4_0: 4, Q4_1: 4, Q4_K: 4, Q6_K: 6 };

function ggmlFormat(codec: GgmlCodec): QuantFormat {
  const name = codec.name.toLowerCase();
  return {
    name,
    bits: BITS[codec.name],
    blockSize: codec.blockSize,
    storageBytes: (rows, cols) => rows * codec.rowBytes(cols),
    quantize: (w, rows, cols) => ggmlQuantMatrix(codec.name, rows, cols, codec.quantizeRows(w, rows, cols)),
    dequantizeRows(q, r0, r1, out) {
      for (let r = r0; r < r1; r++) codec.dequantizeRow(q.data, q.cols, r, out.subarray((r - r0) * q.cols, (r - r0 + 1) * q.cols));
    },
  };
}

for (const t of Object.keys(BITS)) registerQuantFormat(ggmlFormat(GGML_CODECS[t]));

/** The QuantMatrix of a GGUF tensor's blocks ([rows, cols] in HF layout), for a QuantLinear. */
export function ggmlQuantMatrix(typeName: string, rows: number, cols: number, bytes: Uint8Array): QuantMatrix {
  const codec = GGML_CODECS[typeName];
  return { format: typeName.toLowerCase(), rows, cols, blockSize: codec.blockSize, data: bytes, absmax: null, nested: null };
}

/** Whether a ggml type name has a QuantFormat here (the block-quantised types). */
export function isGgmlQuantFormat(typeName: string): boolean {
  return typeName in BITS;
}
