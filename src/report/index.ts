// The run report layer: reading a run dir, the summary, the curves, task results, the compare
// page, and the number formatting the CLI's terminal summary shares.

export { loadRun, parseRunJson } from "./run_data.js";
export type { RunData, EvalPredictions, AdapterDeltaModule } from "./run_data.js";
export { renderRunReport, type ReportOptions } from "./run_page.js";
export { renderComparePage } from "./compare_page.js";
export { writeRunReport, writeCompareReport } from "./write_report.js";
export { runSummary, primaryMetric, bestOf, paramCount, type SummaryItem } from "./summary.js";
export { plotsFromLogHistory, epochSteps, type Plot, type Series, type LogRecord } from "./series.js";
export { niceTicks, niceStep, logTicks } from "./ticks.js";
export { formatNumber, formatCount, formatPercent, formatDuration, formatMetric, metricTable, isRateMetric } from "./format.js";
export { confusionMatrix, classScores, reliability } from "./classification.js";
