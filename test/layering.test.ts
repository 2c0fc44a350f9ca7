// The folder map of docs/DESIGN.md, checked on the sources: each src/ folder imports only from the
// folders below it (platform, backend and tensor share the bottom; io sees only tensor and platform), and the CLI reaches
// the Trainer through static imports.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = join(fileURLToPath(import.meta.url), "..", "..", "src");

/** Position in the map; a folder may import a folder with a lower rank (and its own). */
const RANK: Record<string, number> = {
  platform: 0, backend: 0, tensor: 0, quant: 0, io: 1, dist: 1, ops: 2, nn: 3, models: 4, peft: 5, data: 6, explain: 6, report: 7, train: 8, distill: 9, cli: 10,
};

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** The src/ folder of a file, or null for src/index.ts. */
function folderOf(file: string): string | null {
  const parts = relative(SRC, file).split(sep);
  return parts.length > 1 ? parts[0] : null;
}

/** Relative module specifiers of a file: static imports/exports and dynamic import() calls. */
function imports(text: string): { spec: string; dynamic: boolean }[] {
  const out: { spec: string; dynamic: boolean }[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^"';]*?from\s+["'](\.[^"']+)["']/g)) out.push({ spec: m[1], dynamic: false });
  for (const m of text.matchAll(/(?:^|\n)\s*import\s+["'](\.[^"']+)["']/g)) out.push({ spec: m[1], dynamic: false });
  for (const m of text.matchAll(/import\(\s*["'](\.[^"']+)["']\s*\)/g)) out.push({ spec: m[1], dynamic: true });
  return out;
}

test("every src/ folder imports only from the folders below it in the map", () => {
  const wrong: string[] = [];
  for (const file of sources(SRC)) {
    const from = folderOf(file);
    if (from === null) continue;
    assert.ok(from in RANK, `src/${from} is not in the map of docs/DESIGN.md`);
    for (const { spec } of imports(readFileSync(file, "utf8"))) {
      const to = folderOf(resolve(dirname(file), spec));
      if (to === null || to === from) continue;
      const ok = from === "io" ? to === "tensor" || to === "platform" : RANK[to] < RANK[from] || (RANK[to] === 0 && RANK[from] === 0);
      if (!ok) wrong.push(`${relative(SRC, file)} → ${spec}`);
    }
  }
  assert.deepEqual(wrong, [], `imports that run up the map:\n${wrong.join("\n")}`);
});

test("the CLI imports the Trainer and the Distiller statically (tsc checks the boundary)", () => {
  const dynamic: string[] = [];
  for (const file of sources(join(SRC, "cli"))) {
    const text = readFileSync(file, "utf8");
    for (const { spec, dynamic: d } of imports(text)) {
      const to = folderOf(resolve(dirname(file), spec));
      if (d && (to === "train" || to === "distill")) dynamic.push(`${relative(SRC, file)} → ${spec}`);
    }
    // a computed specifier hides its target from tsc
    if (/import\(\s*[A-Za-z_]/.test(text)) dynamic.push(`${relative(SRC, file)}: import() of a computed name`);
  }
  assert.deepEqual(dynamic, []);
});
