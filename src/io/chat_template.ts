// Chat templates: choosing the template from tokenizer_config and rendering it with @huggingface/jinja.

import { Template } from "@huggingface/jinja";
import { ConfigError } from "../tensor/errors.js";
import type { Json } from "./tokenizer_files.js";
import type { ChatMessage, ChatTemplateOptions } from "./tokenizer_types.js";

/** tokenizer_config "chat_template": a string, a list of {name, template} (the "default" one or the first), or {default: ...}. */
export function pickChatTemplate(t: unknown): string | null {
  if (typeof t === "string") return t;
  if (Array.isArray(t)) {
    const d = t.find((x) => x && x.name === "default") ?? t[0];
    return d && typeof d.template === "string" ? d.template : null;
  }
  if (t && typeof t === "object" && typeof (t as Json).default === "string") return (t as Json).default;
  return null;
}

/**
 * Renders a chat template with the messages, add_generation_prompt, the special tokens (missing
 * ones as "") and opts.extra. `dir` only names the tokenizer in the error for a missing template.
 */
export function renderChatTemplate(
  src: string | null | undefined, messages: ChatMessage[], specialTokens: Record<string, string | null>, opts: ChatTemplateOptions, dir: string | null,
): string {
  if (src === null || src === undefined) {
    throw new ConfigError(`tokenizer${dir ? ` in ${dir}` : ""} has no chat template (tokenizer_config.json "chat_template" or chat_template.jinja); pass opts.chatTemplate`);
  }
  let tpl: Template;
  try {
    tpl = new Template(src);
  } catch (e) {
    throw new ConfigError(`chat template does not parse: ${(e as Error).message}`);
  }
  try {
    return tpl.render({
      messages,
      add_generation_prompt: opts.addGenerationPrompt ?? false,
      ...Object.fromEntries(Object.entries(specialTokens).map(([k, v]) => [k, v ?? ""])),
      ...(opts.extra ?? {}),
    });
  } catch (e) {
    throw new ConfigError(`chat template failed: ${(e as Error).message}`);
  }
}
