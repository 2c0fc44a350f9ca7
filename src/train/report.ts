// report.html of a run: rendered by src/report (summary card, curves, task results, arguments);
// this file keeps the Trainer layer's entry points: the plots of a log history, and a report
// rendered from in-memory run data (title, log history, arguments, metrics).

import type { LogEntry } from "./callbacks.js";
import { renderRunReport } from "../report/run_page.js";
import { plotsFromLogHistory as plotsOf, type Plot } from "../report/series.js";

export type { Plot, Series } from "../report/series.js";

/** The plots of a log history (series with no finite points are left out; empty plots too). */
export function plotsFromLogHistory(log: LogEntry[]): Plot[] {
  return plotsOf(log);
}

/** A report page from in-memory run data (no run dir: no summary facts beyond the metrics and arguments). */
export function renderReport(opts: { title: string; logHistory: LogEntry[]; args: Record<string, unknown>; metrics: Record<string, unknown>; defaultArgs?: Record<string, unknown> }): string {
  return renderRunReport({
    dir: "", name: opts.title, metrics: opts.metrics, state: {}, logHistory: opts.logHistory, runInfo: {}, args: opts.args,
    adapterConfig: null, evalPredictions: null, adapterDelta: null, generations: null, examples: null,
  }, { title: opts.title, defaultArgs: opts.defaultArgs ?? null });
}
