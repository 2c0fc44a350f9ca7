// JSON: an array of rows, {data: [...]}, a named top-level field, or SQuAD (flattened to one row per question).

import { readJsonFileChecked } from "../json.js";
import { FormatError } from "../../tensor/errors.js";
import type { Row } from "./types.js";

/**
 * A JSON file: an array of rows, {data: [...]} (rows), or SQuAD format ({data:[{title,
 * paragraphs:[{context, qas:[...]}]}]}), which is flattened into one row per question with
 * id, title, context, question, answers: {text: [...], answerStart: [...]}.
 */
export function readJsonRows(path: string, opts: { field?: string } = {}): Row[] {
  let v: any = readJsonFileChecked(path, "dataset JSON");
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

/** A SQuAD text field: strings as they are, numbers/booleans as text; anything else is a FormatError. */
function scalarText(v: unknown, where: string): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw new FormatError(`${where} must be a string, found ${JSON.stringify(v)?.slice(0, 60)}`);
}

const isObj = (v: unknown): v is Record<string, any> => v !== null && typeof v === "object" && !Array.isArray(v);

function flattenSquad(v: any, path: string): SquadRow[] {
  const out: SquadRow[] = [];
  v.data.forEach((art: unknown, ai: number) => {
    if (!isObj(art) || !Array.isArray(art.paragraphs)) throw new FormatError(`${path}: data[${ai}] must be an object with a "paragraphs" list`);
    art.paragraphs.forEach((p: unknown, pi: number) => {
      const where = `data[${ai}].paragraphs[${pi}]`;
      if (!isObj(p) || typeof p.context !== "string") throw new FormatError(`${path}: ${where}.context is not a string`);
      const qas = p.qas ?? [];
      if (!Array.isArray(qas)) throw new FormatError(`${path}: ${where}.qas must be a list of questions`);
      qas.forEach((qa: unknown, qi: number) => {
        if (!isObj(qa)) throw new FormatError(`${path}: ${where}.qas[${qi}] must be an object {id, question, answers}`);
        if (qa.answers !== undefined && qa.answers !== null && !Array.isArray(qa.answers)) throw new FormatError(`${path}: question ${qa.id}: answers must be a list`);
        const answers: unknown[] = Array.isArray(qa.answers) ? qa.answers : [];
        for (const a of answers) {
          if (!isObj(a) || typeof a.text !== "string" || !Number.isInteger(a.answer_start)) throw new FormatError(`${path}: question ${qa.id}: answers need text and integer answer_start`);
        }
        out.push({
          id: scalarText(qa.id, `${path}: ${where}.qas[${qi}].id`),
          title: scalarText(art.title ?? "", `${path}: data[${ai}].title`),
          context: p.context,
          question: scalarText(qa.question, `${path}: ${where}.qas[${qi}].question`),
          answers: { text: answers.map((a: any) => a.text), answerStart: answers.map((a: any) => a.answer_start) },
          ...(qa.is_impossible !== undefined ? { isImpossible: !!qa.is_impossible } : {}),
        });
      });
    });
  });
  return out;
}
