// The protobuf wire format, as far as reading a message needs it
// (https://protobuf.dev/programming-guides/encoding/): a message is a run of fields, each a varint
// key (field number << 3 | wire type) and a value: 0 varint, 1 fixed 8 bytes, 2 length-delimited
// (strings, bytes, sub-messages, packed arrays), 5 fixed 4 bytes. Groups (3/4) are deprecated and
// refused. Values are read lazily; a message's reader decides how to read the fields it knows and
// skips the others, as protobuf parsers do.

import { FormatError } from "../tensor/errors.js";

export interface WireField {
  /** The field number. */
  field: number;
  wireType: 0 | 1 | 2 | 5;
  /** Varint: the low 32 bits, unsigned (int32 fields: `value | 0`; bools and enums as they are). */
  varint: number;
  /** Length-delimited: the bytes (a view into the buffer). Fixed: the 4 or 8 bytes. */
  bytes: Uint8Array;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The fields of one message in order; `what` names the message in errors (file and path). */
export function* wireFields(buf: Uint8Array, what: string): Generator<WireField> {
  let pos = 0;
  const varint = (): number => {
    let lo = 0, shift = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= buf.length) throw new FormatError(`${what}: a varint runs past the end of the data (byte ${pos})`);
      const b = buf[pos++];
      if (shift < 32) lo |= (b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) === 0) return lo >>> 0;
    }
    throw new FormatError(`${what}: a varint is longer than 10 bytes (byte ${pos})`);
  };
  const take = (n: number): Uint8Array => {
    if (n > buf.length - pos) throw new FormatError(`${what}: a field of ${n} bytes at byte ${pos} runs past the end of the data (${buf.length} bytes)`);
    const out = buf.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  while (pos < buf.length) {
    const start = pos;
    const key = varint();
    const field = key >>> 3, wireType = key & 7;
    if (field === 0) throw new FormatError(`${what}: field number 0 at byte ${start} (not a protobuf message?)`);
    if (wireType === 0) yield { field, wireType, varint: varint(), bytes: new Uint8Array(0) };
    else if (wireType === 1) yield { field, wireType, varint: 0, bytes: take(8) };
    else if (wireType === 2) yield { field, wireType, varint: 0, bytes: take(varint()) };
    else if (wireType === 5) yield { field, wireType, varint: 0, bytes: take(4) };
    else throw new FormatError(`${what}: wire type ${wireType} (field ${field}, byte ${start}) is not supported (groups are deprecated; expected 0, 1, 2 or 5)`);
  }
}

/** A length-delimited field as UTF-8 text (invalid UTF-8 is a FormatError). */
export function wireString(f: WireField, what: string): string {
  if (f.wireType !== 2) throw new FormatError(`${what}: field ${f.field} should be a string (wire type 2), got wire type ${f.wireType}`);
  try {
    return UTF8.decode(f.bytes);
  } catch {
    throw new FormatError(`${what}: field ${f.field} is not valid UTF-8`);
  }
}

/** A fixed32 field as a little-endian float. */
export function wireFloat(f: WireField, what: string): number {
  if (f.wireType !== 5) throw new FormatError(`${what}: field ${f.field} should be a float (wire type 5), got wire type ${f.wireType}`);
  return new DataView(f.bytes.buffer, f.bytes.byteOffset, 4).getFloat32(0, true);
}

/** A varint field (int32, enum or bool). */
export function wireInt(f: WireField, what: string): number {
  if (f.wireType !== 0) throw new FormatError(`${what}: field ${f.field} should be a varint (wire type 0), got wire type ${f.wireType}`);
  return f.varint | 0;
}

/** A length-delimited field as bytes (sub-messages, bytes fields). */
export function wireBytes(f: WireField, what: string): Uint8Array {
  if (f.wireType !== 2) throw new FormatError(`${what}: field ${f.field} should be length-delimited (wire type 2), got wire type ${f.wireType}`);
  return f.bytes;
}
