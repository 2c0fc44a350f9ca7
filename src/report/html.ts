// HTML building blocks of the report pages: escaping, tables, the page shell and its style sheet.

export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** A table: header cells and rows of already-escaped HTML cells; `cls` names it for the style sheet and tests. */
export function htmlTable(head: string[], rows: string[][], cls = ""): string {
  const th = head.length ? `<thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead>` : "";
  return `<table${cls ? ` class="${cls}"` : ""}>${th}<tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
}

/** A section with an h2 heading and an id (the page's table of contents links to it). */
export function section(id: string, title: string, body: string): string {
  return `<section id="${esc(id)}"><h2>${esc(title)}</h2>${body}</section>`;
}

const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid #dde1e7;padding-bottom:4px}
h3{font-size:14px;margin:14px 0 6px}.sub{color:#5b6473;font-size:13px;margin-bottom:14px}
.card{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:10px;background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:14px}
.card .item{min-width:0}.card .item.wide{grid-column:span 2}.card .k{font-size:11px;text-transform:uppercase;letter-spacing:.04em;color:#6b7482}.card .v{font-size:15px;font-weight:600;overflow-wrap:anywhere}
.card .v small{font-weight:400;color:#5b6473}.headline{font-size:26px!important}.up{color:#1a7f37}.down{color:#b42318}
.plots{display:flex;flex-wrap:wrap;gap:14px}
figure{margin:0;background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:10px 12px;position:relative}
figcaption{font-weight:600;font-size:13px;margin-bottom:2px;display:flex;gap:12px;align-items:center}
figcaption label{font-weight:400;font-size:12px;color:#5b6473}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;margin:2px 0 4px;color:#333}
.legend span.sw{display:inline-block;width:14px;height:3px;vertical-align:middle;margin-right:5px;border-radius:2px}
.legend span.sw.dash{background:repeating-linear-gradient(90deg,currentColor 0 4px,transparent 4px 7px)!important}
svg text{font-size:11px;fill:#4a5261}svg .axis-title{font-size:11px;fill:#333}
.tip{position:absolute;pointer-events:none;background:rgba(20,24,32,.92);color:#fff;font-size:12px;padding:5px 8px;border-radius:4px;white-space:nowrap;display:none;z-index:2}
table{border-collapse:collapse;font-size:13px;background:#fff}th,td{border:1px solid #dde1e7;padding:3px 9px;text-align:left}
th{background:#eef1f5;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
table.confusion td{text-align:center;min-width:64px}table.confusion td small{display:block;color:inherit;opacity:.8}
details{margin-top:10px}summary{cursor:pointer;color:#2f5fb3}
.note{color:#5b6473;font-size:12px;margin:4px 0}
`;

/** The whole page: title, the style sheet, the body and the hover script (inline: the page works offline). */
export function pageShell(title: string, body: string, script: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>${STYLE}</style></head>
<body><main>
${body}
</main>
<script>${script}</script>
</body></html>
`;
}
