// The arguments section: the arguments that differ from their defaults first, the full table folded.

import { esc, htmlTable } from "./html.js";

type Obj = Record<string, unknown>;

function show(v: unknown): string {
  return esc(typeof v === "object" && v !== null ? JSON.stringify(v) : String(v));
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The keys of `args` whose value differs from `defaults` (all keys when no defaults are known). Paths that name the run are kept. */
export function nonDefaultArgs(args: Obj, defaults: Obj | null): string[] {
  return Object.keys(args).filter((k) => !defaults || !(k in defaults) || !same(args[k], defaults[k])).sort();
}

export function argsSection(args: Obj, defaults: Obj | null): string {
  const keys = Object.keys(args).sort();
  if (!keys.length) return `<p class="note">No training arguments in this run dir.</p>`;
  const changed = nonDefaultArgs(args, defaults);
  const changedTable = htmlTable(defaults ? ["argument", "value", "default"] : ["argument", "value"],
    changed.map((k) => defaults ? [esc(k), `<b>${show(args[k])}</b>`, k in defaults ? show(defaults[k]) : "–"] : [esc(k), show(args[k])]), "args-changed");
  return `${defaults ? `<h3>Changed from the defaults (${changed.length})</h3>` : ""}${changedTable}
<details><summary>All ${keys.length} arguments</summary>${htmlTable(["argument", "value"], keys.map((k) => [esc(k), show(args[k])]), "args-all")}</details>`;
}
