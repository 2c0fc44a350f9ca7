// (Re)writes report.html of a run directory from the files in it (peft-ts report DIR, the
// Trainer at the end of train(), the CLI after its final evaluation).

import { join } from "../platform/paths.js";
import { atomicWriteFile } from "../io/fs.js";
import { loadRun } from "./run_data.js";
import { renderRunReport, type ReportOptions } from "./run_page.js";
import { renderComparePage } from "./compare_page.js";

/** Renders dir's report into `output` (default dir/report.html); returns the path written. */
export function writeRunReport(dir: string, o: ReportOptions & { output?: string } = {}): string {
  const html = renderRunReport(loadRun(dir), o);
  const out = o.output ?? join(dir, "report.html");
  atomicWriteFile(out, html);
  return out;
}

/** One compare page over the run dirs, written to `output`. */
export function writeCompareReport(dirs: string[], output: string, o: { title?: string } = {}): string {
  atomicWriteFile(output, renderComparePage(dirs.map((d) => loadRun(d)), o));
  return output;
}
