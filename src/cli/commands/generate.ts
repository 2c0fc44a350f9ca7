// peft-ts generate: one-shot prompts (--prompt, --prompt_file) or an interactive chat (--chat).
import { causalLMTask } from "../../data/tasks/causal_lm_task.js";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadPeftConfig } from "../../peft/index.js";
import { createInterface } from "node:readline";
import { CliError } from "../errors.js";
import { Opts, isExplicit, optionalFile } from "../resolve.js";
import { loadModelWithAdapter, loadTokenizer } from "../pipeline.js";
import { GenOptions, Message, TextGenerator } from "../textgen.js";
import { manualSeed } from "../../tensor/random.js";
import { generateSeq2SeqTexts, isSeq2SeqModelDir } from "../seq2seq_generate.js";

function genOptions(opts: Opts): GenOptions {
  return {
    maxNewTokens: opts.max_new_tokens as number,
    doSample: opts.do_sample === true,
    temperature: opts.temperature as number | undefined,
    topK: opts.top_k as number | undefined,
    topP: opts.top_p as number | undefined,
    repetitionPenalty: opts.repetition_penalty as number | undefined,
    numBeams: opts.num_beams as number | undefined,
  };
}

export async function run(opts: Opts): Promise<number> {
  const prompts: string[] = [];
  if (opts.prompt !== undefined) prompts.push(...(Array.isArray(opts.prompt) ? (opts.prompt as string[]) : [String(opts.prompt)]));
  const pf = optionalFile(opts, "prompt_file", "prompt file");
  if (pf) for (const line of readFileSync(pf, "utf8").split(/\r?\n/)) if (line.trim()) prompts.push(line);
  const chat = opts.chat === true;
  if (!chat && prompts.length === 0) throw new CliError("nothing to generate: pass --prompt TEXT, --prompt_file FILE or --chat");
  if (opts.model_name_or_path && isSeq2SeqModelDir(String(opts.model_name_or_path))) {
    if (chat) throw new CliError("--chat needs a causal LM; this model is an encoder-decoder (pass the source texts with --prompt or --prompt_file)");
    if (opts.seed !== undefined) manualSeed(opts.seed as number);
    await generateSeq2SeqTexts(opts, prompts, genOptions(opts));
    return 0;
  }
  const lm = causalLMTask.name;
  if (opts.task && opts.task !== lm) throw new CliError(`generate needs a causal LM (--task ${lm}), got --task ${opts.task}`);
  const adapter = optionalFile(opts, "adapter", "adapter folder");
  if (adapter && existsSync(join(adapter, "adapter_config.json"))) {
    const tt = loadPeftConfig(adapter, () => {}).taskType;
    if (tt && tt !== "CAUSAL_LM") throw new CliError(`--adapter ${adapter} is a ${tt} adapter; generate needs a CAUSAL_LM adapter (train it with --task causal-lm)`);
  }
  const { dir, model } = await loadModelWithAdapter({ ...opts, task: lm });
  const tokenizer = await loadTokenizer(opts, dir);
  // instruction template: with an adapter (trained on instructions) or in chat mode, unless --raw
  const template = isExplicit(opts, "raw") ? opts.raw !== true : Boolean(opts.adapter) || chat;
  const gen = new TextGenerator(model, tokenizer, template);
  const go = genOptions(opts);
  if (opts.seed !== undefined) manualSeed(opts.seed as number);

  if (!chat) {
    for (const p of prompts) {
      if (prompts.length > 1) process.stdout.write(`>>> ${p}\n`);
      else if (!template) process.stdout.write(tokenizer.decode(tokenizer.encode(p), { skipSpecialTokens: true }));
      gen.reply([{ role: "user", content: p }], go, (piece) => process.stdout.write(piece));
      process.stdout.write("\n");
    }
    return 0;
  }

  const history: Message[] = [];
  for (const p of prompts) history.push({ role: "user", content: p });
  const interactive = process.stdin.isTTY === true;
  if (interactive) process.stdout.write(`chat with ${dir}${opts.adapter ? ` + ${opts.adapter}` : ""} — /reset clears the history, /exit quits\n`);
  const rl = createInterface({ input: process.stdin, output: interactive ? process.stdout : undefined, terminal: interactive });
  const ask = () => interactive && rl.setPrompt("you> ");
  ask();
  if (interactive) rl.prompt();
  for await (const line of rl) {
    const text = line.trim();
    if (text === "/exit" || text === "/quit") break;
    if (text === "/reset") {
      history.length = 0;
      process.stdout.write("(history cleared)\n");
      if (interactive) rl.prompt();
      continue;
    }
    if (!text) {
      if (interactive) rl.prompt();
      continue;
    }
    history.push({ role: "user", content: text });
    process.stdout.write("assistant> ");
    const answer = gen.reply(history, go, (piece) => process.stdout.write(piece));
    process.stdout.write("\n");
    history.push({ role: "assistant", content: answer });
    if (interactive) rl.prompt();
  }
  rl.close();
  return 0;
}
