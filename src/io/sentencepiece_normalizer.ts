// SentencePiece's normalizer (normalizer.cc): the text's UTF-8 bytes are rewritten by the longest
// match in the precompiled charsmap (a darts-clone double-array trie over byte strings whose values
// index NUL-terminated replacements; nmt_nfkc's is NFKC plus control-character rules), characters
// without a match pass unchanged; then the whitespace rules: leading, trailing and repeated spaces
// dropped (remove_extra_whitespaces), "▁" put in front (add_dummy_prefix) and every space written
// as "▁" (escape_whitespaces). Each output UTF-16 unit keeps the original UTF-16 offset it came
// from, so pieces can be mapped back to spans of the input.

import { FormatError } from "../tensor/errors.js";
import type { SpmNormalizerSpec } from "./sentencepiece_model.js";

export const SPACE_SYMBOL = "\u2581";
// ignoreBOM: a U+FEFF in the text is a character, not a byte-order mark to drop
const UTF8 = new TextDecoder("utf-8", { ignoreBOM: true });
const ENC = new TextEncoder();

/** The charsmap's trie and replacement strings. */
class CharsMap {
  private readonly units: Uint32Array;
  private readonly normalized: Uint8Array;
  private readonly replacements = new Map<number, string>();
  constructor(blob: Uint8Array, what: string) {
    if (blob.length < 4) throw new FormatError(`${what}: precompiled_charsmap is ${blob.length} bytes, shorter than its 4-byte header`);
    const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const trieBytes = dv.getUint32(0, true);
    if (trieBytes % 4 !== 0 || 4 + trieBytes > blob.length) throw new FormatError(`${what}: precompiled_charsmap trie size ${trieBytes} does not fit its ${blob.length} bytes`);
    this.units = new Uint32Array(trieBytes / 4);
    for (let i = 0; i < this.units.length; i++) this.units[i] = dv.getUint32(4 + 4 * i, true);
    this.normalized = blob.subarray(4 + trieBytes);
  }

  /** The longest entry that prefixes bytes[pos…]: its byte length and replacement, or null. */
  longestMatch(bytes: Uint8Array, pos: number): { len: number; text: string } | null {
    const u = this.units;
    if (u.length === 0) return null;
    const offset = (x: number) => (x >>> 10) << ((x & (1 << 9)) >>> 6);
    let node = offset(u[0]);
    let best: { len: number; value: number } | null = null;
    for (let i = pos; i < bytes.length; i++) {
      const c = bytes[i];
      if (c === 0) break;
      node ^= c;
      if (node >= u.length) break;
      const unit = u[node];
      if ((unit & 0x800000ff) >>> 0 !== c) break;
      node ^= offset(unit);
      if (node >= u.length) break;
      if ((unit >>> 8) & 1) best = { len: i - pos + 1, value: u[node] & 0x7fffffff };
    }
    if (!best) return null;
    let text = this.replacements.get(best.value);
    if (text === undefined) {
      let end = best.value;
      while (end < this.normalized.length && this.normalized[end] !== 0) end++;
      text = UTF8.decode(this.normalized.subarray(best.value, end));
      this.replacements.set(best.value, text);
    }
    return { len: best.len, text };
  }
}

/** Byte length of the UTF-8 character whose lead byte is b (1 for a stray byte). */
function charLength(b: number): number {
  return b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
}

export interface Normalized {
  text: string;
  /** origin[i] = the input's UTF-16 offset where output unit i came from; origin[text.length] = input length. */
  origin: number[];
}

export class SentencePieceNormalizer {
  private readonly charsMap: CharsMap | null;
  constructor(readonly spec: SpmNormalizerSpec, what: string) {
    this.charsMap = spec.precompiledCharsmap.length > 0 ? new CharsMap(spec.precompiledCharsmap, what) : null;
  }

  normalize(input: string): Normalized {
    const bytes = ENC.encode(input);
    // the UTF-16 offset of each byte's character
    const byteOrigin = new Array<number>(bytes.length + 1);
    for (let i = 0, b = 0; i < input.length; i++) {
      const cp = input.codePointAt(i)!;
      const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      for (let k = 0; k < n; k++) byteOrigin[b + k] = i;
      b += n;
      if (cp >= 0x10000) i++;
    }
    byteOrigin[bytes.length] = input.length;
    const { removeExtraWhitespaces: removeWs, addDummyPrefix, escapeWhitespaces: escape } = this.spec;
    const prefix = (pos: number): { len: number; text: string } => {
      const m = this.charsMap?.longestMatch(bytes, pos);
      if (m) return m;
      // no rule: the character itself (the bytes came from the string, so they are one whole code point)
      const i = byteOrigin[pos];
      const cp = input.codePointAt(i)!;
      return { len: charLength(bytes[pos]), text: cp >= 0x10000 ? input.slice(i, i + 2) : input[i] };
    };
    let text = "";
    const origin: number[] = [];
    const emit = (s: string, from: number) => {
      text += s;
      for (let k = 0; k < s.length; k++) origin.push(from);
    };
    let pos = 0;
    if (removeWs) {
      while (pos < bytes.length) {
        const p = prefix(pos);
        if (p.text !== " ") break;
        pos += p.len;
      }
    }
    if (pos >= bytes.length) return { text: "", origin: [input.length] };
    if (addDummyPrefix) emit(escape ? SPACE_SYMBOL : " ", byteOrigin[pos]);
    let prevSpace = removeWs;
    while (pos < bytes.length) {
      const p = prefix(pos);
      let s = p.text;
      if (prevSpace) while (s.startsWith(" ")) s = s.slice(1);
      if (s.length > 0) {
        emit(escape ? s.replaceAll(" ", SPACE_SYMBOL) : s, byteOrigin[pos]);
        prevSpace = s.endsWith(" ");
      }
      pos += p.len;
      prevSpace = prevSpace && removeWs;
    }
    if (removeWs) {
      const sp = escape ? SPACE_SYMBOL : " ";
      while (text.endsWith(sp)) {
        text = text.slice(0, -sp.length);
        origin.length = text.length;
      }
    }
    origin.push(input.length);
    return { text, origin };
  }
}
