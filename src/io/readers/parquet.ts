// Parquet via hyparquet (loaded on first use).

import { getFiles } from "../../platform/files.js";
import { FormatError } from "../../tensor/errors.js";
import { requireReadableFile } from "../fs.js";
import type { Row } from "./types.js";

/**
 * Reads a Parquet file (hyparquet) into rows; BigInt integers become numbers when exact.
 *
 * The file is read into memory and decoded one row group and one top-level column at a time:
 * hyparquet starts every column chunk of a row group at once, and when one fails the others
 * reject with nobody listening (an unhandled rejection ends the process). Column names become
 * row keys as own data properties, so a column named "__proto__" stays an ordinary key.
 */
export async function readParquetRows(path: string, opts: { columns?: string[] } = {}): Promise<Row[]> {
  const { parquetMetadata, parquetReadObjects, parquetSchema } = await import("hyparquet");
  requireReadableFile(path, "a Parquet");
  const bytes = getFiles().readFile(path);
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const rows: Row[] = [];
  try {
    const metadata = parquetMetadata(file);
    const names = opts.columns ?? parquetSchema(metadata).children.map((c) => c.element.name);
    let start = 0;
    for (const group of metadata.row_groups) {
      const n = Number(group.num_rows);
      if (!Number.isSafeInteger(n) || n < 0 || start + n > Number(metadata.num_rows)) {
        throw new Error(`row group claims ${group.num_rows} rows (the file has ${metadata.num_rows})`);
      }
      const part: Row[] = Array.from({ length: n }, () => ({}));
      for (const name of names) {
        const got = (await parquetReadObjects({ file, metadata, columns: [name], rowStart: start, rowEnd: start + n })) as Row[];
        if (got.length !== n) throw new Error(`column '${name}' has ${got.length} values in a row group of ${n} rows`);
        got.forEach((o, i) => Object.defineProperty(part[i], name, { value: exactNumber(o[name]), enumerable: true, writable: true, configurable: true }));
      }
      for (const r of part) rows.push(r);
      start += n;
    }
  } catch (e) {
    throw new FormatError(`${path}: cannot read Parquet (${(e as Error)?.message ?? String(e)})`);
  }
  return rows;
}

function exactNumber(v: unknown): unknown {
  return typeof v === "bigint" && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}
