// The .mo reader on hand-built catalogues: both byte orders, a header with a charset, plural
// forms, msgctxt, a Latin-1 catalogue, and malformed files (typed errors naming the file).

import { test } from "node:test";
import assert from "node:assert/strict";
import { parseMo } from "../../src/io/gettext_mo.js";
import { FormatError } from "../../src/tensor/errors.js";

/** A .mo file with the given (original, translation) byte strings, in gettext's layout (tables after the 28-byte header, no hash table). */
function buildMo(pairs: [Uint8Array, Uint8Array][], littleEndian: boolean, revision = 0): Uint8Array {
  const n = pairs.length;
  const origOff = 28, transOff = origOff + 8 * n;
  let data = transOff + 8 * n;
  const size = data + pairs.reduce((s, [o, t]) => s + o.length + t.length + 2, 0);
  const buf = new Uint8Array(size);
  const v = new DataView(buf.buffer);
  const put = (off: number, x: number) => v.setUint32(off, x, littleEndian);
  put(0, 0x950412de); put(4, revision); put(8, n); put(12, origOff); put(16, transOff); put(20, 0); put(24, data);
  pairs.forEach(([o, t], i) => {
    for (const [table, s] of [[origOff, o], [transOff, t]] as const) {
      put(table + 8 * i, s.length);
      put(table + 8 * i + 4, data);
      buf.set(s, data);
      data += s.length + 1; // NUL follows
    }
  });
  return buf;
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const HEADER = "Project-Id-Version: demo 1.0\nContent-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=2; plural=(n != 1);\n";
const PAIRS: [string, string][] = [
  ["", HEADER],
  ["Open file", "Datei öffnen"],
  ["%d file\0%d files", "%d Datei\0%d Dateien"],
  ["menu\x04Quit", "Beenden"],
];

for (const le of [true, false]) {
  test(`parseMo: a ${le ? "little" : "big"}-endian catalogue with header, plural forms and msgctxt`, () => {
    const cat = parseMo(buildMo(PAIRS.map(([o, t]) => [utf8(o), utf8(t)]), le), "demo.mo");
    assert.equal(cat.littleEndian, le);
    assert.equal(cat.charset, "utf-8");
    assert.equal(cat.header["Project-Id-Version"], "demo 1.0");
    assert.deepEqual(cat.entries, [
      { msgid: "Open file", msgstr: ["Datei öffnen"] },
      { msgid: "%d file", msgidPlural: "%d files", msgstr: ["%d Datei", "%d Dateien"] },
      { context: "menu", msgid: "Quit", msgstr: ["Beenden"] },
    ]);
  });
}

test("parseMo: a Latin-1 catalogue is decoded with the header's charset", () => {
  const header = utf8("Content-Type: text/plain; charset=ISO-8859-1\n");
  const cat = parseMo(buildMo([[new Uint8Array(0), header], [utf8("Size"), Uint8Array.from([0x47, 0x72, 0xf6, 0xdf, 0x65])]], true, 1), "latin1.mo");
  assert.equal(cat.charset, "iso-8859-1");
  assert.equal(cat.revision, 1);
  assert.deepEqual(cat.entries, [{ msgid: "Size", msgstr: ["Größe"] }]);
});

test("parseMo: malformed files are FormatErrors that name the file and the fault", () => {
  const good = buildMo(PAIRS.map(([o, t]) => [utf8(o), utf8(t)]), true);
  const fails = (bytes: Uint8Array, re: RegExp) =>
    assert.throws(() => parseMo(bytes, "/x/bad.mo"), (e: unknown) => e instanceof FormatError && e.message.startsWith("/x/bad.mo: ") && re.test(e.message), String(re));
  fails(good.subarray(0, 20), /shorter than the 28-byte header/);
  const magic = good.slice(); magic[0] = 0; fails(magic, /magic/);
  const rev = good.slice(); new DataView(rev.buffer).setUint32(4, 2 << 16, true); fails(rev, /major revision 2/);
  const count = good.slice(); new DataView(count.buffer).setUint32(8, 1000, true); fails(count, /runs past the end/);
  const off = good.slice(); new DataView(off.buffer).setUint32(28 + 8 + 4, 1 << 30, true); fails(off, /original string 1 .* out of bounds/);
  const nul = good.slice(); nul[nul.length - 1] = 0x41; fails(nul, /not NUL-terminated/);
  const bad = buildMo([[utf8("A"), Uint8Array.from([0xff, 0xfe])]], true); fails(bad, /not valid utf-8/);
  const cs = buildMo([[new Uint8Array(0), utf8("Content-Type: text/plain; charset=KLINGON-1\n")]], true); fails(cs, /charset 'klingon-1' is not supported/);
});
