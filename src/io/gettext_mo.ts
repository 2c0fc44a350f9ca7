// GNU gettext .mo catalogues (https://www.gnu.org/software/gettext/manual/html_node/MO-Files.html).
// Layout: u32 magic 0x950412de (the byte order it reads in is the file's), u32 revision (major 0
// or 1; revision 1's system-dependent strings are extra and not read), u32 N, u32 offset of the
// originals table, u32 offset of the translations table, then the hash table. Each table holds N
// (u32 length, u32 offset) pairs pointing at NUL-terminated strings. An original may carry a
// context ("ctxt\x04msgid") and a plural ("msgid\0msgid_plural"); its translation then holds the
// plural forms separated by NUL. Entry "" is the header ("Content-Type: text/plain; charset=…").

import { FormatError } from "../tensor/errors.js";

export interface MoEntry {
  /** msgctxt, when the original has one. */
  context?: string;
  msgid: string;
  msgidPlural?: string;
  /** The translation, or its plural forms in order. */
  msgstr: string[];
}

export interface MoCatalog {
  /** Header fields (from the "" entry), e.g. "Content-Type", "Plural-Forms". */
  header: Record<string, string>;
  /** The charset the strings were decoded from (header's Content-Type, UTF-8 when absent). */
  charset: string;
  revision: number;
  littleEndian: boolean;
  entries: MoEntry[];
}

const MAGIC = 0x950412de;

/** Header lines "Key: value" of the "" entry. */
function parseHeader(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const k = line.indexOf(":");
    if (k > 0) out[line.slice(0, k).trim()] = line.slice(k + 1).trim();
  }
  return out;
}

/** The charset named by a Content-Type header value, lower-cased; "utf-8" when there is none. */
function charsetOf(header: Record<string, string>): string {
  const m = /charset=([^\s;]+)/i.exec(header["Content-Type"] ?? "");
  return m ? m[1].toLowerCase() : "utf-8";
}

/**
 * Parses a .mo file's bytes. `file` names it in errors. Strings are decoded with the header's
 * charset; a charset that TextDecoder does not know is a FormatError (callers may skip the file).
 */
export function parseMo(bytes: Uint8Array, file: string): MoCatalog {
  const fail = (what: string): never => {
    throw new FormatError(`${file}: not a valid .mo file: ${what}`);
  };
  if (bytes.length < 28) fail(`${bytes.length} bytes, shorter than the 28-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let le: boolean;
  if (view.getUint32(0, true) === MAGIC) le = true;
  else if (view.getUint32(0, false) === MAGIC) le = false;
  else le = fail(`magic 0x${view.getUint32(0, true).toString(16)} (expected 0x950412de in either byte order)`);
  const u32 = (off: number) => view.getUint32(off, le);
  const revision = u32(4);
  if (revision >>> 16 > 1) fail(`major revision ${revision >>> 16} (expected 0 or 1)`);
  const n = u32(8), origOff = u32(12), transOff = u32(16);
  for (const [name, off] of [["originals", origOff], ["translations", transOff]] as const) {
    if (off % 4 !== 0 || off + 8 * n > bytes.length) fail(`the ${name} table (${n} entries at offset ${off}) runs past the end of the file (${bytes.length} bytes)`);
  }
  const raw = (table: number, i: number, name: string): Uint8Array => {
    const len = u32(table + 8 * i), off = u32(table + 8 * i + 4);
    if (off + len >= bytes.length || bytes[off + len] !== 0) fail(`${name} string ${i} (length ${len} at offset ${off}) is out of bounds or not NUL-terminated`);
    return bytes.subarray(off, off + len);
  };
  const origs: Uint8Array[] = [], trans: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    origs.push(raw(origOff, i, "original"));
    trans.push(raw(transOff, i, "translation"));
  }
  // the header is the entry whose original is empty; it is decoded as ASCII-compatible text first
  const h = origs.findIndex((o) => o.length === 0);
  const header = h >= 0 ? parseHeader(new TextDecoder("latin1").decode(trans[h])) : {};
  const charset = charsetOf(header);
  let decoder: TextDecoder;
  try {
    // "CHARSET" is the placeholder of an unfilled template header
    decoder = new TextDecoder(charset === "charset" ? "utf-8" : charset, { fatal: true });
  } catch {
    return fail(`charset '${charset}' is not supported`);
  }
  const decode = (b: Uint8Array, what: string): string => {
    try {
      return decoder.decode(b);
    } catch {
      return fail(`${what} is not valid ${charset}`);
    }
  };
  const entries: MoEntry[] = [];
  for (let i = 0; i < n; i++) {
    if (i === h) continue;
    let id = decode(origs[i], `original ${i}`);
    const e: MoEntry = { msgid: "", msgstr: decode(trans[i], `translation ${i}`).split("\0") };
    const ctx = id.indexOf("\x04");
    if (ctx >= 0) {
      e.context = id.slice(0, ctx);
      id = id.slice(ctx + 1);
    }
    const plural = id.indexOf("\0");
    if (plural >= 0) {
      e.msgidPlural = id.slice(plural + 1);
      id = id.slice(0, plural);
    }
    e.msgid = id;
    entries.push(e);
  }
  return { header, charset, revision, littleEndian: le, entries };
}
