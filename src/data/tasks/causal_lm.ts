// Causal language modelling data:
//  * plain text: tokenized, concatenated and cut into blocks of blockSize (run_clm's group_texts;
//    the remainder shorter than a block is dropped); labels = inputIds;
//  * instruction / chat data: rendered as a prompt and a response, labels −100 on the prompt so
//    the loss covers the responses only. With a tokenizer chat template the conversation is
//    rendered by the template; otherwise by DEFAULT_TEMPLATE below.

import { ConfigError } from "../../tensor/errors.js";
import { Dataset, Row } from "../datasets.js";
import type { Features } from "../collate.js";
import type { TaskTokenizer } from "./types.js";

export interface PackOptions {
  blockSize: number;
  textColumn?: string;
  /** Append the EOS id after each document (default true when the tokenizer has one). */
  appendEos?: boolean;
  /** Tokenize each text with the tokenizer's special tokens (default false). */
  addSpecialTokens?: boolean;
}

function docIds(tokenizer: TaskTokenizer, text: string, opts: PackOptions): number[] {
  const ids = tokenizer.encode(text, { addSpecialTokens: opts.addSpecialTokens ?? false });
  const eos = tokenizer.eosTokenId;
  if ((opts.appendEos ?? true) && eos !== null && eos !== undefined) ids.push(eos);
  return ids;
}

/** Streams packed blocks from any iterable of texts (rows of a file larger than memory included). */
export function* packBlocks(texts: Iterable<string>, tokenizer: TaskTokenizer, opts: PackOptions): Generator<Features> {
  const B = opts.blockSize;
  if (!Number.isInteger(B) || B < 1) throw new ConfigError(`packBlocks: blockSize must be a positive integer, got ${B}`);
  let buf: number[] = [];
  for (const t of texts) {
    buf = buf.concat(docIds(tokenizer, t, opts));
    while (buf.length >= B) {
      const ids = buf.slice(0, B);
      buf = buf.slice(B);
      yield { inputIds: ids, attentionMask: new Array<number>(B).fill(1), labels: ids.slice() };
    }
  }
}

/** In-memory packing of a text column. */
export function packTexts(ds: Dataset<Row>, tokenizer: TaskTokenizer, opts: PackOptions): Dataset<Features> {
  const col = opts.textColumn ?? "text";
  if (ds.length > 0 && !ds.columns.includes(col)) throw new ConfigError(`packTexts: no column '${col}' (columns: ${ds.columns.join(", ")})`);
  const packed = new Dataset([...packBlocks(ds.column(col).map(String), tokenizer, opts)]);
  // an example is a block of concatenated texts: DP-SGD (src/train/trainer_dp.ts) warns that its unit of privacy is the block
  return Object.assign(packed, { examplesSpanRows: true });
}

// ------------------------------------------------------------------ instruction / chat

export interface ConversationMessage {
  role: string;
  content: string;
}

/**
 * The default prompt format when the tokenizer has no chat template (Alpaca's section headers):
 *   [### System:\n{system}\n\n]
 *   ### Instruction:\n{instruction}\n\n
 *   [### Input:\n{input}\n\n]
 *   ### Response:\n
 * followed by the response and the EOS token. Multi-turn chats repeat the user/assistant pair
 * as "### Instruction:" / "### Response:" sections.
 */
export const DEFAULT_TEMPLATE = {
  system: (s: string) => `### System:\n${s}\n\n`,
  instruction: (s: string) => `### Instruction:\n${s}\n\n`,
  input: (s: string) => `### Input:\n${s}\n\n`,
  response: "### Response:\n",
  /** Between an assistant answer (after its EOS) and the next section. */
  turnSeparator: "\n\n",
};

/** An Alpaca row ({instruction, input?, output}) as a conversation. */
export function alpacaToMessages(row: Row): ConversationMessage[] {
  if (typeof row.instruction !== "string" || typeof row.output !== "string") {
    throw new ConfigError(`instruction row needs string 'instruction' and 'output' fields, got keys ${Object.keys(row).join(", ")}`);
  }
  const user = row.input ? `${row.instruction}\n\n${row.input}` : row.instruction;
  return [{ role: "user", content: user }, { role: "assistant", content: row.output }];
}

interface Segment {
  text: string;
  train: boolean;
}

/** Renders a conversation (or an Alpaca row) with DEFAULT_TEMPLATE into prompt/response segments. */
export function defaultTemplateSegments(input: ConversationMessage[] | Row): Segment[] {
  const segs: Segment[] = [];
  if (!Array.isArray(input)) {
    const row = input;
    if (typeof row.instruction !== "string" || typeof row.output !== "string") {
      throw new ConfigError(`instruction row needs string 'instruction' and 'output' fields, got keys ${Object.keys(row).join(", ")}`);
    }
    let prompt = row.system ? DEFAULT_TEMPLATE.system(row.system) : "";
    prompt += DEFAULT_TEMPLATE.instruction(row.instruction);
    if (row.input) prompt += DEFAULT_TEMPLATE.input(String(row.input));
    prompt += DEFAULT_TEMPLATE.response;
    return [{ text: prompt, train: false }, { text: row.output, train: true }];
  }
  let prompt = "";
  for (const m of input) {
    if (m.role === "system") prompt += DEFAULT_TEMPLATE.system(m.content);
    else if (m.role === "user") prompt += DEFAULT_TEMPLATE.instruction(m.content);
    else if (m.role === "assistant") {
      segs.push({ text: prompt + DEFAULT_TEMPLATE.response, train: false });
      segs.push({ text: m.content, train: true });
      prompt = DEFAULT_TEMPLATE.turnSeparator;
    } else throw new ConfigError(`chat message role '${m.role}' is not one of system, user, assistant`);
  }
  return segs;
}

export interface InstructionOptions {
  maxLength?: number;
  /** Prepend BOS (default: when the tokenizer has a BOS id and no chat template is used). */
  addBos?: boolean;
  /** Train on the prompt too (labels everywhere), default false. */
  trainOnPrompt?: boolean;
  /** Use this chat template instead of the tokenizer's. */
  chatTemplate?: string;
  /** Ignore the tokenizer's chat template and use DEFAULT_TEMPLATE. */
  useDefaultTemplate?: boolean;
}

/** Default-template encoding: each segment tokenized alone, so the prompt/response boundary is exact. */
function encodeDefault(tokenizer: TaskTokenizer, segs: Segment[], opts: InstructionOptions): Features {
  const ids: number[] = [], labels: number[] = [];
  const bos = tokenizer.bosTokenId, eos = tokenizer.eosTokenId;
  if ((opts.addBos ?? true) && bos !== null && bos !== undefined) {
    ids.push(bos);
    labels.push(-100);
  }
  for (const s of segs) {
    const t = tokenizer.encode(s.text, { addSpecialTokens: false });
    if (s.train && eos !== null && eos !== undefined) t.push(eos);
    // one by one: a segment (a long response) may hold more tokens than a spread call takes arguments
    const trained = s.train || opts.trainOnPrompt;
    for (const x of t) {
      ids.push(x);
      labels.push(trained ? x : -100);
    }
  }
  return { inputIds: ids, attentionMask: ids.map(() => 1), labels };
}

/**
 * Chat-template encoding: the whole conversation is rendered once; the characters each assistant
 * turn adds (render(messages[..k]) minus render(messages[..k), add_generation_prompt)) are the
 * trained spans, and tokens whose offsets fall inside them get labels.
 */
function encodeWithTemplate(tokenizer: TaskTokenizer, messages: ConversationMessage[], template: string, opts: InstructionOptions): Features {
  if (!tokenizer.applyChatTemplate) throw new ConfigError("tokenizer has no applyChatTemplate");
  const render = (ms: ConversationMessage[], gen: boolean) => tokenizer.applyChatTemplate!(ms, { addGenerationPrompt: gen, tokenize: false, chatTemplate: template }) as string;
  const full = render(messages, false);
  const spans: [number, number][] = [];
  messages.forEach((m, k) => {
    if (m.role !== "assistant") return;
    const before = render(messages.slice(0, k), true);
    const upto = render(messages.slice(0, k + 1), false);
    if (!upto.startsWith(before) || !full.startsWith(upto)) {
      throw new ConfigError("chat template is not prefix-stable (rendering the first k messages is not a prefix of the whole conversation); cannot find the assistant spans");
    }
    spans.push([before.length, upto.length]);
  });
  const enc = tokenizer.encodeWithOffsets(full, { addSpecialTokens: false });
  const ids = enc.ids.slice();
  const labels = enc.ids.map((id, t) => {
    const [a, b] = enc.offsets[t];
    const inside = spans.some(([s, e]) => a >= s && b <= e && b > a);
    return inside || opts.trainOnPrompt ? id : -100;
  });
  const bos = tokenizer.bosTokenId;
  if (opts.addBos && bos !== null && bos !== undefined) {
    ids.unshift(bos);
    labels.unshift(-100);
  }
  return { inputIds: ids, attentionMask: ids.map(() => 1), labels };
}

/** Encodes one instruction row ({instruction,input,output}) or chat row ({messages}) into features. */
export function encodeInstruction(tokenizer: TaskTokenizer, row: Row, opts: InstructionOptions = {}): Features {
  const template = opts.useDefaultTemplate ? null : opts.chatTemplate ?? tokenizer.chatTemplate ?? null;
  let f: Features;
  if (template) {
    const messages: ConversationMessage[] = Array.isArray(row.messages) ? row.messages : alpacaToMessages(row);
    f = encodeWithTemplate(tokenizer, messages, template, opts);
  } else {
    f = encodeDefault(tokenizer, defaultTemplateSegments(Array.isArray(row.messages) ? row.messages : row), opts);
  }
  if (opts.maxLength !== undefined && f.inputIds.length > opts.maxLength) {
    const n = opts.maxLength;
    f = { inputIds: f.inputIds.slice(0, n), attentionMask: f.attentionMask!.slice(0, n), labels: (f.labels as number[]).slice(0, n) };
  }
  return f;
}

/** encodeInstruction over a dataset; rows whose response was cut away entirely (all −100) are dropped. */
export function preprocessInstructions(ds: Dataset<Row>, tokenizer: TaskTokenizer, opts: InstructionOptions = {}): Dataset<Features> {
  return ds.map((r) => encodeInstruction(tokenizer, r, opts)).filter((f) => (f.labels as number[]).some((l) => l !== -100));
}
