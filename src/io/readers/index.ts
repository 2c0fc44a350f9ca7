// File-format readers: each returns plain rows (src/data wraps them in a Dataset).
export type { Row } from "./types.js";
export { readLinesSync, readLines } from "./lines.js";
export { iterateTextSync, readTextRows } from "./text.js";
export { parseJsonLine, iterateJsonlSync, iterateJsonl, readJsonlRows, indexJsonlLines, readJsonlRowAt } from "./jsonl.js";
export { readJsonRows } from "./json.js";
export type { SquadRow } from "./json.js";
export { parseCsv, readCsvRows } from "./csv.js";
export type { CsvOptions } from "./csv.js";
export { readConllRows } from "./conll.js";
export type { ConllRow } from "./conll.js";
export { readParquetRows } from "./parquet.js";
