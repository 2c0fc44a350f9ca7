// What the report tests read from a page in Chromium: points drawn per chart and series (visible
// svg only), the x tick labels of the step charts, legends against plot boxes, the summary card,
// the confusion matrix cells; and the page's console errors and network requests.
import type { Browser, Page } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ARTIFACTS = join(fileURLToPath(import.meta.url), "..", "..", "..", "test-artifacts");

export interface PageFacts {
  /** figure id → points drawn (circles/bars with a real box) in its visible chart. */
  charts: Record<string, number>;
  /** "figure id/series name" → points drawn. */
  series: Record<string, number>;
  xticks: string[];
  /** Figures whose legend box overlaps their plot box. */
  legendOverlaps: string[];
  summary: Record<string, string>;
  cells: { t: number; p: number; count: number }[];
}

export async function openPage(browser: Browser, file: string): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors: string[] = [], requests: string[] = [];
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (r) => { if (!r.url().startsWith("file:")) requests.push(r.url()); });
  await page.goto("file://" + file);
  return { page, errors, requests };
}

// plain JavaScript text: tsx would wrap named functions of a TypeScript callback in __name(), which the page lacks
const FACTS_JS = `(() => {
  const visible = (el) => getComputedStyle(el).display !== "none";
  const drawn = (root) => Array.from(root.querySelectorAll(".pt")).filter((c) => {
    const b = c.getBBox();
    return Number.isFinite(b.x) && Number.isFinite(b.y) && b.width > 0;
  }).length;
  const facts = { charts: {}, series: {}, xticks: [], legendOverlaps: [], summary: {}, cells: [] };
  for (const fig of document.querySelectorAll("figure.plot")) {
    const svg = Array.from(fig.querySelectorAll("svg")).find(visible);
    facts.charts[fig.id] = drawn(svg);
    for (const g of svg.querySelectorAll("g.series")) facts.series[fig.id + "/" + g.getAttribute("data-series")] = drawn(g);
    if (svg.classList.contains("chart")) facts.xticks.push(...Array.from(svg.querySelectorAll("text.xtick")).map((t) => t.textContent || ""));
    const leg = fig.querySelector(".legend"), box = svg.querySelector("rect.box");
    if (leg && box) {
      const a = leg.getBoundingClientRect(), b = box.getBoundingClientRect();
      if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) facts.legendOverlaps.push(fig.id);
    }
  }
  for (const it of document.querySelectorAll("#summary .item")) facts.summary[it.getAttribute("data-key")] = (it.textContent || "").replace(/\\s+/g, " ").trim();
  Array.from(document.querySelectorAll("table.confusion tbody tr")).forEach((tr, t) =>
    Array.from(tr.querySelectorAll("span.cell")).forEach((c, p) => facts.cells.push({ t, p, count: Number(c.getAttribute("data-count")) })));
  return facts;
})()`;

export function pageFacts(page: Page): Promise<PageFacts> {
  return page.evaluate(FACTS_JS) as Promise<PageFacts>;
}

/** A full-page screenshot kept in test-artifacts/ (git-ignored). */
export async function keepScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The number a percent text shows ("74.5%" → 0.745). */
export function percentOf(text: string): number {
  return Number(text.replace("%", "")) / 100;
}
