// Dataset files: JSONL, JSON (rows and SQuAD), CSV, TSV, CoNLL, plain text and Parquet, each cut
// from the repo's fixtures (a few rows), damaged as text / JSON trees / bytes, read by loadDataset
// (JSONL also through the random-access JsonlFileDataset).

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { JsonlFileDataset, loadDataset } from "../../../src/data/datasets.js";
import { writeParquetMin } from "../../../test/data/helpers/parquet_min.js";
import { FuzzRng, mutateBytes, mutatedJsonText, mutateText } from "../mutate.js";
import { SHARED, type FuzzTarget } from "../target.js";

interface Base { ext: string; text?: string; json?: unknown; bytes?: Uint8Array }
let bases: Base[] = [];

const headLines = (path: string, n: number) => readFileSync(path, "utf8").split("\n").slice(0, n).join("\n") + "\n";

export const target: FuzzTarget = {
  name: "datasets",
  setup() {
    const f = `${SHARED}fixtures`;
    const squad = JSON.parse(readFileSync(`${f}/qa/xquad.en.json`, "utf8"));
    const art = squad.data[0];
    const para = { ...art.paragraphs[0], qas: art.paragraphs[0].qas.slice(0, 3) };
    const jsonl = headLines(`${f}/lm/alpaca_libre_tasks_v1.jsonl`, 6);
    const sst = headLines(`${f}/sst2/dev.tsv`, 12);
    const rows = sst.trim().split("\n").slice(1).map((l) => l.split("\t"));
    bases = [
      { ext: ".jsonl", text: jsonl },
      { ext: ".json", json: { version: squad.version ?? "1.1", data: [{ title: art.title ?? "", paragraphs: [para] }] } },
      { ext: ".json", json: jsonl.trim().split("\n").map((l) => JSON.parse(l)) },
      { ext: ".tsv", text: sst },
      { ext: ".tsv", text: headLines(`${f}/stsb/dev.tsv`, 10) },
      { ext: ".csv", text: sst.split("\n").map((l) => l.split("\t").map((c) => (/[",]/.test(c) ? `"${c.replaceAll('"', '""')}"` : c)).join(",")).join("\n") },
      { ext: ".conll", text: headLines(`${f}/ner/wnut17_dev.conll`, 60) },
      { ext: ".txt", text: headLines(`${f}/lm/tinyshakespeare.txt`, 20) },
      {
        ext: ".parquet",
        bytes: writeParquetMin([
          { name: "sentence", type: "string", values: rows.map((r) => r[0]) },
          { name: "label", type: "int32", values: rows.map((r) => Number(r[1])) },
        ]),
      },
    ];
  },
  async run(r: FuzzRng, dir: string) {
    const b = bases[r.int(bases.length)];
    const path = join(dir, `data${b.ext}`);
    if (b.bytes) writeFileSync(path, mutateBytes(b.bytes, r));
    else if (b.json !== undefined) writeFileSync(path, mutatedJsonText(b.json, r));
    else {
      let t = b.text!;
      const n = 1 + r.int(3);
      for (let k = 0; k < n; k++) t = r.chance(0.1) ? new TextDecoder().decode(mutateBytes(new TextEncoder().encode(t), r)) : mutateText(t, r);
      if (b.ext === ".jsonl" && r.chance(0.3)) t = mutatedJsonText(JSON.parse(b.text!.split("\n")[0]), r) + "\n" + t;
      writeFileSync(path, t);
    }
    if (b.ext === ".jsonl" && r.chance(0.3)) {
      // the random-access reader: line index, then rows read one at a time
      const lazy = JsonlFileDataset.open(path);
      try {
        return Array.from({ length: lazy.length }, (_, i) => lazy.get(i));
      } finally {
        lazy.close();
      }
    }
    const ds = await loadDataset(path);
    return ds.length > 0 ? ds.get(0) : null;
  },
};
