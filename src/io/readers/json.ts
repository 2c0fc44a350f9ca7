// JSON: an array of rows, {data: [...]}, a named top-level field, or SQuAD (flattened to one row per question).

import { readFileSync } from "node:fs";
import { FormatError } from "../../tensor/errors.js";
import type { Row } from "./types.js";

/**
 * A JSON file: an array of rows, {data: [...]} (rows), or SQuAD format ({data:[{title,
 * paragraphs:[{context, qas:[...]}]}]}), which is flattened into one row per question with
 * id, title, context, question, answers: {text: [...], answerStart: [...]}.
 */
export function readJsonRows(path: string, opts: { field?: string } = {}): Row[] {
  let v: any;
  try {
    v = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new FormatError(`${path}: invalid JSON (${(e as Error).message})`);
  }
  if (opts.field) {
    if (!v || typeof v !== "object" || !(opts.field in v)) throw new FormatError(`${path}: no field '${opts.field}' at the top level`);
    v = v[opts.field];
  } else if (v && !Array.isArray(v) && typeof v === "object" && Array.isArray(v.data)) {
    if (v.data.length > 0 && Array.isArray(v.data[0]?.paragraphs)) return flattenSquad(v, path);
    v = v.data;
  }
  if (!Array.isArray(v)) throw new FormatError(`${path}: expected an array of rows, {"data": [...]} or SQuAD JSON`);
  v.forEach((r: unknown, i: number) => {
    if (!r || typeof r !== "object" || Array.isArray(r)) throw new FormatError(`${path}: row ${i} is not an object`);
  });
  return v as Row[];
}

export interface SquadRow extends Row {
  id: string;
  title: string;
  context: string;
  question: string;
  answers: { text: string[]; answerStart: number[] };
}

function flattenSquad(v: any, path: string): SquadRow[] {
  const out: SquadRow[] = [];
  v.data.forEach((art: any, ai: number) => {
    if (!Array.isArray(art.paragraphs)) throw new FormatError(`${path}: data[${ai}].paragraphs is not an array`);
    art.paragraphs.forEach((p: any, pi: number) => {
      if (typeof p.context !== "string") throw new FormatError(`${path}: data[${ai}].paragraphs[${pi}].context is not a string`);
      for (const qa of p.qas ?? []) {
        const answers = Array.isArray(qa.answers) ? qa.answers : [];
        for (const a of answers) {
          if (typeof a.text !== "string" || !Number.isInteger(a.answer_start)) throw new FormatError(`${path}: question ${qa.id}: answers need text and integer answer_start`);
        }
        out.push({
          id: String(qa.id),
          title: String(art.title ?? ""),
          context: p.context,
          question: String(qa.question),
          answers: { text: answers.map((a: any) => a.text), answerStart: answers.map((a: any) => a.answer_start) },
          ...(qa.is_impossible !== undefined ? { isImpossible: !!qa.is_impossible } : {}),
        });
      }
    });
  });
  return out;
}
