// Prompt formatting and generation for the generate command and the demo: a prompt is used as
// is (--raw) or rendered as an instruction (the tokenizer's chat template, else the Alpaca-style
// DEFAULT_TEMPLATE the causal-lm task trains with), and new text streams as it is produced.

import type { PreTrainedTokenizer } from "../io/tokenizer.js";
import type { PreTrainedModel, ModelInputs } from "../models/modeling_utils.js";
import { generate, GenerateOptions } from "../models/generate.js";
import { DEFAULT_TEMPLATE } from "../data/tasks/causal_lm.js";

export interface Message {
  role: string;
  content: string;
}
import { PeftModel } from "../peft/index.js";

/** The sampling options the CLI exposes (GenerateOptions without the stopping token). */
export type GenOptions = Omit<GenerateOptions, "eosTokenId">;

export class TextGenerator {
  readonly base: PreTrainedModel;
  constructor(readonly model: PreTrainedModel | PeftModel, readonly tokenizer: PreTrainedTokenizer, readonly template: boolean) {
    this.base = model instanceof PeftModel ? model.getBaseModel() : model;
  }

  /** Token ids of a conversation whose last message is the user's: the prompt for the reply. */
  promptIds(messages: Message[]): number[] {
    const tok = this.tokenizer;
    if (!this.template) {
      const text = messages.filter((m) => m.role !== "system").map((m) => m.content).join("\n");
      return tok.encode(text);
    }
    if (tok.chatTemplate) return tok.applyChatTemplate(messages, { addGenerationPrompt: true, tokenize: true }) as number[];
    const ids: number[] = [];
    if (tok.bosTokenId !== null) ids.push(tok.bosTokenId);
    let text = "";
    const flush = () => {
      if (text) ids.push(...tok.encode(text, { addSpecialTokens: false }));
      text = "";
    };
    for (const m of messages) {
      if (m.role === "system") text += DEFAULT_TEMPLATE.system(m.content);
      else if (m.role === "user") text += DEFAULT_TEMPLATE.instruction(m.content);
      else {
        text += DEFAULT_TEMPLATE.response + m.content;
        flush();
        if (tok.eosTokenId !== null) ids.push(tok.eosTokenId);
        text = DEFAULT_TEMPLATE.turnSeparator;
      }
    }
    text += DEFAULT_TEMPLATE.response;
    flush();
    return ids;
  }

  /** Generates the reply to `messages`; onText receives each new piece of text as it appears. */
  reply(messages: Message[], opts: GenOptions, onText?: (piece: string) => void): string {
    const ids = this.promptIds(messages);
    const tok = this.tokenizer;
    const newIds: number[] = [];
    // raw prompts: decode prompt + continuation together, so detokenisation joins them as one text
    const context = this.template ? [] : ids;
    const head = tok.decode(context, { skipSpecialTokens: true });
    const textOf = (n: number) => tok.decode([...context, ...newIds.slice(0, n)], { skipSpecialTokens: true }).slice(head.length);
    let shown = "";
    const emit = (text: string) => {
      if (!onText) return;
      let k = 0;
      while (k < shown.length && k < text.length && shown[k] === text[k]) k++;
      if (text.length > k) onText(text.slice(k));
      shown = text;
    };
    const eos = tok.eosTokenId;
    const peft = this.model instanceof PeftModel ? this.model : null;
    // prompt/prefix tuning prepends virtual tokens on every call: generate without the KV cache
    const useCache = !(peft && peft.isPromptLearning);
    const lm = {
      config: this.base.config,
      generationConfig: this.base.generationConfig as Partial<GenerateOptions>,
      // prompt learning positions the virtual tokens itself (one unpadded row, so 0..T−1 is right)
      forward: (inputs: ModelInputs) => this.model.forward(useCache ? inputs : { ...inputs, positionIds: undefined }),
    };
    generate(lm, [ids], {
      maxNewTokens: opts.maxNewTokens ?? 48,
      doSample: opts.doSample ?? false,
      ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
      ...(opts.topK !== undefined ? { topK: opts.topK } : {}),
      ...(opts.topP !== undefined ? { topP: opts.topP } : {}),
      ...(opts.repetitionPenalty !== undefined ? { repetitionPenalty: opts.repetitionPenalty } : {}),
      ...(eos !== null ? { eosTokenId: eos } : {}),
      useCache,
      onToken: (t) => {
        if (eos !== null && t[0] === eos) return;
        newIds.push(t[0]);
        // hold back the last two tokens: joining them may still change (e.g. "he ' s" → "he's")
        if (onText && newIds.length > 2) {
          let stable = textOf(newIds.length - 2);
          stable = stable.slice(0, Math.max(0, stable.lastIndexOf(" ")));
          if (stable.length > shown.length && stable.startsWith(shown)) emit(stable);
        }
      },
    });
    const text = textOf(newIds.length);
    emit(text);
    return text.trim();
  }
}
