// Parquet via hyparquet (loaded on first use).

import { FormatError } from "../../tensor/errors.js";
import type { Row } from "./types.js";

/** Reads a Parquet file (hyparquet) into rows; BigInt integers become numbers when exact. */
export async function readParquetRows(path: string, opts: { columns?: string[] } = {}): Promise<Row[]> {
  const { asyncBufferFromFile, parquetReadObjects } = await import("hyparquet");
  let rows: Row[];
  try {
    const file = await asyncBufferFromFile(path);
    rows = (await parquetReadObjects({ file, columns: opts.columns })) as Row[];
  } catch (e) {
    throw new FormatError(`${path}: cannot read Parquet (${(e as Error).message})`);
  }
  for (const r of rows) {
    for (const [k, v] of Object.entries(r)) {
      if (typeof v === "bigint" && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)) r[k] = Number(v);
    }
  }
  return rows;
}
