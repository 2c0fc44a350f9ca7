// The committed en→de corpus (data/translation/en-de, made by scripts/build_gettext_corpus.mjs):
// row shape, the split by package (no test or dev package in train), no English string shared
// between splits, no empty or identical pair, and counts that agree with stats.json.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const dir = new URL("../../data/translation/en-de/", import.meta.url);
type Row = { translation: { en: string; de: string }; package: string };
const read = (s: string) => readFileSync(new URL(`${s}.jsonl`, dir), "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as Row);

test("gettext corpus: rows, package-disjoint splits, no English string in two splits", () => {
  const splits = { train: read("train"), dev: read("dev"), test: read("test") };
  const stats = JSON.parse(readFileSync(new URL("stats.json", dir), "utf8")) as { rows: Record<string, number> };
  const pkgs: Record<string, Set<string>> = {}, ens: Record<string, Set<string>> = {};
  for (const [name, rows] of Object.entries(splits)) {
    assert.equal(rows.length, stats.rows[name], `${name} row count vs stats.json`);
    assert.ok(rows.length > 100, `${name} has ${rows.length} rows`);
    for (const r of rows) {
      assert.deepEqual(Object.keys(r).sort(), ["package", "translation"]);
      assert.ok(typeof r.translation.en === "string" && typeof r.translation.de === "string" && r.package.length > 0);
      assert.ok(r.translation.en !== "" && r.translation.de !== "" && r.translation.en !== r.translation.de, JSON.stringify(r));
    }
    pkgs[name] = new Set(rows.map((r) => r.package));
    ens[name] = new Set(rows.map((r) => r.translation.en));
  }
  for (const [a, b] of [["train", "dev"], ["train", "test"], ["dev", "test"]]) {
    assert.deepEqual([...pkgs[a]].filter((p) => pkgs[b].has(p)), [], `packages in both ${a} and ${b}`);
    assert.equal([...ens[b]].filter((e) => ens[a].has(e)).length, 0, `English strings in both ${a} and ${b}`);
  }
});
