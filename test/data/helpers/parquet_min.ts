// A minimal Parquet writer for tests (hyparquet only reads): one row group, REQUIRED columns,
// PLAIN encoding, uncompressed data pages, metadata in the Thrift compact protocol — written
// from the parquet-format specification (parquet.thrift field ids).

type Col = { name: string; type: "int32" | "double" | "string"; values: (number | string)[] };

class Compact {
  bytes: number[] = [];
  private last: number[] = [0];
  varint(n: bigint | number): void {
    let v = BigInt(n);
    while (v >= 0x80n) { this.bytes.push(Number(v & 0x7fn) | 0x80); v >>= 7n; }
    this.bytes.push(Number(v));
  }
  zigzag(n: number): void {
    const v = BigInt(n);
    this.varint(v >= 0n ? v << 1n : ((-v) << 1n) - 1n);
  }
  field(id: number, type: number): void {
    const delta = id - this.last[this.last.length - 1];
    if (delta > 0 && delta <= 15) this.bytes.push((delta << 4) | type);
    else { this.bytes.push(type); this.zigzag(id); }
    this.last[this.last.length - 1] = id;
  }
  i32(id: number, v: number): void { this.field(id, 5); this.zigzag(v); }
  i64(id: number, v: number): void { this.field(id, 6); this.zigzag(v); }
  bin(id: number, s: string): void { this.field(id, 8); this.binRaw(s); }
  binRaw(s: string): void { const b = Buffer.from(s, "utf8"); this.varint(b.length); this.bytes.push(...b); }
  listHeader(id: number, size: number, elemType: number): void {
    this.field(id, 9);
    if (size < 15) this.bytes.push((size << 4) | elemType); else { this.bytes.push(0xf0 | elemType); this.varint(size); }
  }
  beginStruct(id?: number): void { if (id !== undefined) this.field(id, 12); this.last.push(0); }
  endStruct(): void { this.bytes.push(0); this.last.pop(); }
}

const PHYS = { int32: 1, double: 5, string: 6 } as const;

function plain(c: Col): Buffer {
  const parts: Buffer[] = [];
  for (const v of c.values) {
    if (c.type === "int32") { const b = Buffer.alloc(4); b.writeInt32LE(v as number); parts.push(b); }
    else if (c.type === "double") { const b = Buffer.alloc(8); b.writeDoubleLE(v as number); parts.push(b); }
    else { const s = Buffer.from(String(v), "utf8"); const l = Buffer.alloc(4); l.writeUInt32LE(s.length); parts.push(l, s); }
  }
  return Buffer.concat(parts);
}

export function writeParquetMin(cols: Col[]): Buffer {
  const n = cols[0].values.length;
  const chunks: Buffer[] = [Buffer.from("PAR1")];
  let offset = 4;
  const metas: { offset: number; size: number }[] = [];
  for (const c of cols) {
    const data = plain(c);
    const h = new Compact();
    h.i32(1, 0); // DATA_PAGE
    h.i32(2, data.length);
    h.i32(3, data.length);
    h.beginStruct(5); // DataPageHeader
    h.i32(1, n); h.i32(2, 0); h.i32(3, 3); h.i32(4, 3);
    h.endStruct();
    h.bytes.push(0);
    const page = Buffer.concat([Buffer.from(h.bytes), data]);
    metas.push({ offset, size: page.length });
    chunks.push(page);
    offset += page.length;
  }
  const m = new Compact();
  m.i32(1, 1);
  m.listHeader(2, cols.length + 1, 12);
  m.beginStruct(); m.bin(4, "schema"); m.i32(5, cols.length); m.endStruct();
  for (const c of cols) {
    m.beginStruct();
    m.i32(1, PHYS[c.type]); m.i32(3, 0); m.bin(4, c.name);
    if (c.type === "string") m.i32(6, 0); // UTF8
    m.endStruct();
  }
  m.i64(3, n);
  m.listHeader(4, 1, 12);
  m.beginStruct();
  m.listHeader(1, cols.length, 12);
  cols.forEach((c, i) => {
    m.beginStruct();
    m.i64(2, metas[i].offset);
    m.beginStruct(3);
    m.i32(1, PHYS[c.type]);
    m.listHeader(2, 1, 5); m.zigzag(0);
    m.listHeader(3, 1, 8); m.binRaw(c.name);
    m.i32(4, 0);
    m.i64(5, n); m.i64(6, metas[i].size); m.i64(7, metas[i].size); m.i64(9, metas[i].offset);
    m.endStruct();
    m.endStruct();
  });
  m.i64(2, metas.reduce((a, x) => a + x.size, 0));
  m.i64(3, n);
  m.endStruct();
  m.bytes.push(0);
  const meta = Buffer.from(m.bytes);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(meta.length);
  chunks.push(meta, len, Buffer.from("PAR1"));
  return Buffer.concat(chunks);
}
