// Plain text: one row per non-empty line.

import { readLinesSync } from "./lines.js";
import type { Row } from "./types.js";

/** The non-empty lines of a text file, streamed, as { [column]: line } rows. */
export function* iterateTextSync(path: string, column = "text"): Generator<Row> {
  for (const line of readLinesSync(path)) if (line.length > 0) yield { [column]: line };
}

export function readTextRows(path: string, column = "text"): Row[] {
  return [...iterateTextSync(path, column)];
}
