#!/usr/bin/env node
// peft-ts command line: train, eval, predict, generate, merge, distill, inspect, explain, convert, export, report, demo.
// Options carry their Hugging Face names (--model_name_or_path, --learning_rate, …), given as
// flags (snake_case or kebab-case) or in a JSON/YAML file (--config); flags override the file.
// Errors print one line `peft-ts: error: …` and exit non-zero (stack traces only with --debug).

import "../node.js";
import { Command, CommanderError, Option } from "commander";
import { pathToFileURL } from "node:url";
import { realpathSync } from "node:fs";
import { CliError, errorLine } from "./errors.js";
import {
  ADAPTER_OPTS, DATA_OPTS, DISTILL_OPTS, EXPLAIN_OPTS, GEN_OPTS, GENERAL_OPTS, LAUNCH_OPTS, LOSS_OPTS, MODEL_OPTS, OptSpec, PEFT_OPTS, QUANT_OPTS, TRAINING_OPTS, flagOf,
} from "./options.js";
import { Opts, normalizeArgv, readConfigFile, resolveOptions } from "./resolve.js";
import { DEMO_DEFAULTS } from "./demo_defaults.js";
import { packageVersion } from "./paths.js";
import { launchRanks, mpiRankFromEnv } from "./launch.js";
import { activeProcessGroup, checkTensorParallelSize } from "../dist/index.js";
import { ConfigError, PeftError } from "../tensor/errors.js";
import { checkTensorParallelMethod, peftMethodByCliName } from "../peft/index.js";

export interface CommandDef {
  name: string;
  summary: string;
  /** Option lists, in help order; names repeated in a later list are skipped. */
  options: OptSpec[][];
  /** Positional arguments: name → help. */
  args?: [string, string][];
  /** Config-file keys without a flag (structured values). */
  fileKeys?: string[];
  examples: string[];
  run: (opts: Opts, args: string[]) => Promise<number | void>;
}

type CommandModule = { run: (o: Opts, a: string[]) => Promise<number | void> };

/** A command's module, loaded when the command runs (import() of a literal path: tsc checks its run()). */
const lazy = (load: () => Promise<CommandModule>) => async (opts: Opts, args: string[]): Promise<number | void> => (await load()).run(opts, args);

export function commandDefs(training: OptSpec[]): CommandDef[] {
  const demoOpts: OptSpec[] = [
    { name: "output_dir", kind: "path", help: "where metrics.json, report.html and the adapters go", group: "Demo:", default: "demo-output", short: "o" },
    { name: "num_train_epochs", kind: "float", help: `SST-2 LoRA epochs (${DEMO_DEFAULTS.num_train_epochs}; the HF reference recipe uses 3)`, group: "Demo:" },
    { name: "max_steps", kind: "int", help: "cap the SST-2 training steps (smoke runs)", group: "Demo:" },
    { name: "max_length", kind: "int", help: `SST-2 max tokens per sentence (${DEMO_DEFAULTS.max_length})`, group: "Demo:" },
    { name: "max_train_samples", kind: "int", help: `SST-2 training rows (${DEMO_DEFAULTS.max_train_samples})`, group: "Demo:" },
    { name: "max_eval_samples", kind: "int", help: `SST-2 dev rows (${DEMO_DEFAULTS.max_eval_samples})`, group: "Demo:" },
    { name: "per_device_train_batch_size", kind: "int", help: `SST-2 batch size (${DEMO_DEFAULTS.per_device_train_batch_size})`, group: "Demo:" },
    { name: "learning_rate", kind: "float", help: `SST-2 learning rate (${DEMO_DEFAULTS.learning_rate})`, group: "Demo:" },
    { name: "seed", kind: "int", help: `random seed (${DEMO_DEFAULTS.seed})`, group: "Demo:" },
    { name: "lm_rows", kind: "int", help: `instruction rows for the chat part (${DEMO_DEFAULTS.lm_rows})`, group: "Demo:" },
    { name: "lm_epochs", kind: "float", help: `epochs for the chat part (${DEMO_DEFAULTS.lm_epochs})`, group: "Demo:" },
    { name: "lm_max_steps", kind: "int", help: "cap the chat-part steps", group: "Demo:" },
    { name: "skip_lm", kind: "bool", help: "skip part 5 (instruction tuning + generation)", group: "Demo:" },
    { name: "model_name_or_path", kind: "path", help: "model folder (default: the bundled llama-mini-en)", group: "Demo:", short: "m" },
  ];
  return [
    {
      name: "train",
      summary: "fine-tune a model (LoRA/IA3/prompt/prefix or full) on a task; writes the adapter, metrics.json and report.html",
      options: [GENERAL_OPTS, MODEL_OPTS, QUANT_OPTS, DATA_OPTS, PEFT_OPTS, LOSS_OPTS, LAUNCH_OPTS, training],
      fileKeys: ["tasks"],
      examples: [
        "peft-ts train --config examples/sentiment.yaml",
        "peft-ts train --model_name_or_path models/llama-mini-en --task seq-cls --train_file data/sst2/train_5k.tsv \\\n      --validation_file data/sst2/dev.tsv --peft lora --lora_r 8 --lora_alpha 16 --target_modules all-linear \\\n      --num_train_epochs 1 --learning_rate 3e-3 --output_dir runs/sst2",
        "peft-ts train --config examples/sentiment.yaml --learning_rate 1e-3 --max_steps 50   # flags override the file",
        "peft-ts train --config examples/translation.yaml   # --task translation --source_lang en --target_lang de, BLEU/chrF",
        "peft-ts train --config examples/sentiment.yaml --load_in_4bit --bnb_4bit_quant_type nf4   # QLoRA: LoRA on an NF4 base",
      ],
      run: lazy(() => import("./commands/train.js")),
    },
    {
      name: "eval",
      summary: "evaluate a model (optionally with an adapter) on a labelled file; writes metrics.json",
      options: [GENERAL_OPTS, MODEL_OPTS, QUANT_OPTS, ADAPTER_OPTS, DATA_OPTS, training],
      examples: [
        "peft-ts eval --model_name_or_path models/llama-mini-en --task seq-cls --adapter runs/sst2 --validation_file data/sst2/dev.tsv --output_dir runs/sst2-eval",
        "peft-ts eval --config examples/sentiment.yaml --adapter runs/sentiment",
      ],
      run: lazy(() => import("./commands/eval.js")),
    },
    {
      name: "predict",
      summary: "predict labels/answers for a file; writes predictions.jsonl",
      options: [GENERAL_OPTS, MODEL_OPTS, QUANT_OPTS, ADAPTER_OPTS, [{ name: "test_file", kind: "path", help: "rows to predict (default: validation_file)", group: "Model and data:" }], DATA_OPTS, training],
      examples: [
        "peft-ts predict --model_name_or_path models/llama-mini-en --task seq-cls --adapter runs/sst2 --test_file data/sst2/dev.tsv --output_dir runs/pred",
      ],
      run: lazy(() => import("./commands/predict.js")),
    },
    {
      name: "generate",
      summary: "generate text with a causal LM (one-shot --prompt or an interactive --chat) or translate/summarise with an encoder-decoder",
      options: [GENERAL_OPTS, [MODEL_OPTS[0], MODEL_OPTS[2]], ADAPTER_OPTS, GEN_OPTS, DATA_OPTS.filter((o) => o.name === "source_prefix")],
      examples: [
        'peft-ts generate --model_name_or_path models/llama-mini-en --prompt "once upon a time" --max_new_tokens 30',
        'peft-ts generate -m models/llama-mini-en --adapter runs/chat --prompt "Give three tips for staying healthy."',
        "peft-ts generate -m models/llama-mini-en --adapter runs/chat --chat --do_sample --temperature 0.8 --top_k 40",
        'peft-ts generate -m t5-small --adapter runs/en-de --source_prefix "translate English to German: " --prompt "Open file" --num_beams 4',
      ],
      run: lazy(() => import("./commands/generate.js")),
    },
    {
      name: "merge",
      summary: "merge an adapter into its base model and save a plain model folder",
      options: [GENERAL_OPTS, [MODEL_OPTS[0], MODEL_OPTS[1], MODEL_OPTS[3]], QUANT_OPTS, ADAPTER_OPTS, [{ ...TRAINING_OPTS[0], help: "folder for the merged model (config.json, model.safetensors, tokenizer)" }]],
      examples: ["peft-ts merge --model_name_or_path models/llama-mini-en --adapter runs/chat --output_dir runs/chat-merged"],
      run: lazy(() => import("./commands/merge.js")),
    },
    {
      name: "distill",
      summary: "distil a teacher (optionally with its adapter) into a student on a task",
      options: [GENERAL_OPTS, MODEL_OPTS, DISTILL_OPTS, DATA_OPTS, PEFT_OPTS, LOSS_OPTS, LAUNCH_OPTS, training],
      examples: [
        "peft-ts distill --config examples/distill.yaml",
        "peft-ts distill -m models/bert-mini-en --teacher_model_name_or_path models/llama-mini-en --teacher_adapter runs/sst2 \\\n      --task seq-cls --train_file data/sst2/train_5k.tsv --validation_file data/sst2/dev.tsv --output_dir runs/distill",
      ],
      run: lazy(() => import("./commands/distill.js")),
    },
    {
      name: "inspect",
      summary: "show a model's or adapter's config, parameter counts, trainable parameters for a PEFT config and targetable modules",
      options: [GENERAL_OPTS, MODEL_OPTS, ADAPTER_OPTS, PEFT_OPTS, [{ name: "json", kind: "bool", help: "print one JSON object instead of text", group: "General:" }]],
      examples: [
        "peft-ts inspect --model_name_or_path models/llama-mini-en",
        "peft-ts inspect -m models/llama-mini-en --task seq-cls --peft lora --lora_r 8 --target_modules all-linear",
        "peft-ts inspect -m models/llama-mini-en --adapter runs/chat --json",
        "peft-ts inspect --adapter runs/sst2/adapter   # what the LoRA adapter changed: ‖ΔW‖, effective rank per module",
      ],
      run: lazy(() => import("./commands/inspect.js")),
    },
    {
      name: "explain",
      summary: "which tokens made the prediction: Integrated Gradients, gradient × input or attention rollout for one text, in the terminal and explain.html",
      options: [GENERAL_OPTS, [MODEL_OPTS[0], MODEL_OPTS[1], MODEL_OPTS[2], MODEL_OPTS[3]], ADAPTER_OPTS, EXPLAIN_OPTS],
      examples: [
        'peft-ts explain -m models/bert-mini-en --adapter runs/sst2 --text "a charming and often affecting journey"',
        'peft-ts explain -m models/bert-mini-en --adapter runs/sst2 --text "unflinchingly bleak" --label 1 --method grad_x_input --output out/explain.html',
        'peft-ts explain -m models/llama-mini-en --task causal-lm --text "once upon a time" --method rollout --layer 3 --head 2',
      ],
      run: lazy(() => import("./commands/explain.js")),
    },
    {
      name: "convert",
      summary: "convert a llama2.c checkpoint (.bin) into a Hugging Face model folder",
      options: [GENERAL_OPTS, [{ name: "tokenizer", kind: "path", help: "llama2.c tokenizer .bin (tok512.bin …) to convert alongside", group: "Model and data:" }]],
      args: [["checkpoint", "llama2.c .bin checkpoint"], ["output_dir", "folder to write config.json + model.safetensors (+ tokenizer)"]],
      examples: ["peft-ts convert stories260K.bin models/stories260K --tokenizer tok512.bin"],
      run: lazy(() => import("./commands/convert.js")),
    },
    {
      name: "export",
      summary: "export a Llama-family model (adapter merged) or a LoRA adapter as a llama.cpp / Ollama GGUF file",
      options: [GENERAL_OPTS, [MODEL_OPTS[0], MODEL_OPTS[2]], ADAPTER_OPTS, [
        { name: "format", kind: "string", help: "output format", group: "Export:", choices: ["gguf"], default: "gguf" },
        { name: "outtype", kind: "string", help: "tensor type of the 2-D weights (norms stay f32; q4_0/q4_1 keep token_embd/output in q8_0)", group: "Export:", choices: ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1"], default: "f16" },
        { name: "adapter_only", kind: "bool", help: "write --adapter as a llama.cpp LoRA adapter GGUF (llama-cli --lora) instead of merging it", group: "Export:" },
        { name: "output", kind: "path", help: "the .gguf file to write", group: "Export:" },
      ]],
      examples: [
        "peft-ts export --format gguf -m models/llama-mini-en --adapter runs/chat --outtype q8_0 --output chat-q8_0.gguf",
        "peft-ts export --format gguf -m models/llama-mini-en --adapter runs/chat --adapter_only --outtype f16 --output chat-lora.gguf",
      ],
      run: lazy(() => import("./commands/export.js")),
    },
    {
      name: "report",
      summary: "render report.html of a run dir again (from its metrics.json, trainer_state.json, log_history.jsonl …), or one page comparing several runs",
      options: [GENERAL_OPTS, [{ name: "output", kind: "path", help: "where to write the page (default: DIR/report.html for one run, compare.html for several)", group: "Report:", short: "o" },
        { name: "title", kind: "string", help: "page title (default: the run's name)", group: "Report:" }]],
      args: [["run_dirs...", "one run's output_dir, or several to compare"]],
      examples: ["peft-ts report runs/sst2", "peft-ts report runs/a runs/b --output compare.html", "peft-ts report demo-output"],
      run: lazy(() => import("./commands/report.js")),
    },
    {
      name: "demo",
      summary: "end-to-end demo: SST-2 baseline vs LoRA fine-tuned accuracy, then instruction tuning with before/after generations",
      options: [GENERAL_OPTS, demoOpts],
      examples: ["peft-ts demo", "npm run demo", "peft-ts demo --output_dir /tmp/demo --num_train_epochs 1 --skip_lm"],
      run: lazy(() => import("./commands/demo.js")),
    },
  ];
}

function addOption(cmd: Command, spec: OptSpec, attr: Map<string, string>): void {
  const flags = `${spec.short ? `-${spec.short}, ` : ""}${flagOf(spec.name)}`;
  let o: Option;
  const choices = spec.choices ? ` (${spec.choices.join(", ")})` : "";
  const def = spec.default !== undefined ? ` [default: ${JSON.stringify(spec.default)}]` : "";
  if (spec.kind === "bool") o = new Option(`${flags} [bool]`, spec.help + def);
  else if (spec.name === "prompt") {
    o = new Option(`${flags} <text>`, spec.help).argParser((v: string, prev: unknown) => [...((prev as string[] | undefined) ?? []), v]);
  } else {
    const meta = spec.kind === "int" ? "<int>" : spec.kind === "float" ? "<number>" : spec.kind === "path" ? "<path>" : spec.kind === "list" ? "<list>" : "<value>";
    o = new Option(`${flags} ${meta}`, spec.help + choices + def);
  }
  o.helpGroup(spec.group);
  cmd.addOption(o);
  attr.set(o.attributeName(), spec.name);
}

export function buildProgram(defs: CommandDef[], onRun: (def: CommandDef, opts: Opts, args: string[]) => Promise<void>): Command {
  const program = new Command("peft-ts");
  program
    .description("Parameter-efficient fine-tuning (LoRA, IA3, prompt/prefix tuning), training and distillation of transformer models, in TypeScript.")
    .usage("<command> [options]")
    .version(packageVersion(), "-V, --version")
    .showSuggestionAfterError(true)
    .helpCommand(true)
    .addHelpText("after", "\nOptions use Hugging Face names, as --snake_case or --kebab-case, or from a file: --config run.yaml (flags override it).\nRun 'peft-ts <command> --help' for a command's options and examples.");
  for (const def of defs) {
    const cmd = program.command(def.name).description(def.summary).showSuggestionAfterError(true);
    for (const [a, help] of def.args ?? []) cmd.argument(`<${a}>`, help);
    const attr = new Map<string, string>();
    const seen = new Set<string>();
    const specs = new Map<string, OptSpec>();
    for (const list of def.options) {
      for (const spec of list) {
        if (seen.has(spec.name)) continue;
        seen.add(spec.name);
        specs.set(spec.name, spec);
        addOption(cmd, spec, attr);
      }
    }
    cmd.addHelpText("after", "\nExamples:\n" + def.examples.map((e) => "  $ " + e).join("\n") + "\n\nAny option may also come from --config FILE.yaml|.json (snake_case keys); flags override the file.");
    cmd.action(async (...actionArgs: unknown[]) => {
      const c = actionArgs[actionArgs.length - 1] as Command;
      // a last argument named "<name>..." takes every remaining positional (peft-ts report DIR…)
      const variadic = (def.args ?? []).some(([a]) => a.endsWith("..."));
      const positional = variadic ? [...c.args] : c.args.slice(0, (def.args ?? []).length);
      const raw = c.opts();
      const cli: Opts = {};
      for (const [k, v] of Object.entries(raw)) {
        if (v === undefined) continue;
        const name = attr.get(k);
        if (name) cli[name] = v === true && specs.get(name)?.kind === "bool" ? true : v;
      }
      let file: Opts | null = null;
      let filePath: string | null = null;
      if (cli.config !== undefined) {
        filePath = String(cli.config);
        file = readConfigFile(filePath);
      }
      const opts = resolveOptions(def.name, specs, cli, file, filePath, def.fileKeys ?? []);
      await onRun(def, opts, positional);
    });
  }
  return program;
}


/**
 * The resolved options of a command line (defaults < config file < flags), without running the
 * command: what `peft-ts <command> …` would run with. Throws the CLI's one-line errors.
 */
export async function resolveCommandLine(argv: string[]): Promise<{ command: string; opts: Opts; args: string[] }> {
  let got: { command: string; opts: Opts; args: string[] } | null = null;
  const program = buildProgram(commandDefs(TRAINING_OPTS), async (def, opts, args) => {
    got = { command: def.name, opts, args };
  });
  program.exitOverride();
  for (const c of program.commands) c.exitOverride();
  await program.parseAsync(normalizeArgv(argv), { from: "user" });
  if (!got) throw new CliError(`no command in: ${argv.join(" ")}`);
  return got;
}

let debugFlag = false;
let epipeListening = false;

/** Runs the CLI on argv (without node and script); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  // `peft-ts … | head`: a closed pipe ends the run quietly (one listener for every main() of the process)
  if (!epipeListening) {
    epipeListening = true;
    process.stdout.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") process.exit(0);
    });
  }
  const args = normalizeArgv(argv);
  debugFlag = args.includes("--debug") || args.some((a) => /^--debug=(true|1|yes)$/i.test(a)) || process.env.PEFT_TS_DEBUG === "1";
  let exitCode = 0;
  const defs = commandDefs(TRAINING_OPTS);
  const program = buildProgram(defs, async (def, opts, pos) => {
    if (opts.debug === true) debugFlag = true;
    if (opts.print_config === true) {
      const shown = Object.fromEntries(Object.entries(opts).filter(([k]) => !["print_config", "config", "debug"].includes(k)));
      process.stdout.write(JSON.stringify({ command: def.name, args: pos, options: shown }, null, 2) + "\n");
      return;
    }
    if (opts.nproc_per_node !== undefined && mpiRankFromEnv() === null) {
      // caught before any rank starts: one line, no MPI job
      if (opts.tensor_parallel_size !== undefined && !opts.hostfile) {
        try {
          checkTensorParallelSize(Number(opts.tensor_parallel_size), Number(opts.nproc_per_node));
        } catch (e) {
          throw new CliError(`--tensor_parallel_size: ${(e as Error).message}`);
        }
        const peft = String(opts.peft ?? "lora");
        if (Number(opts.tensor_parallel_size) > 1 && peft !== "none") checkTensorParallelMethod(peftMethodByCliName(peft).peftType);
      }
      exitCode = await launchRanks(argv, Number(opts.nproc_per_node), opts.hostfile ? String(opts.hostfile) : null);
      return;
    }
    if (typeof opts.backend === "string") await selectBackend(opts.backend);
    const rc = await def.run(opts, pos);
    if (typeof rc === "number") exitCode = rc;
  });
  let captured = "";
  const configure = (c: Command) => {
    c.exitOverride();
    c.configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => (captured += s),
      outputError: (s) => (captured += s),
    });
    for (const sub of c.commands) configure(sub);
  };
  configure(program);
  try {
    await program.parseAsync(args, { from: "user" });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return 0;
      if (e.code === "commander.help") {
        // no command given: the overview goes to stderr and the exit status says it was not a run
        process.stderr.write(captured);
        return e.exitCode;
      }
      if (e.exitCode === 0) return 0;
      // commander writes help to stderr when a command is missing: show it, then the one-line error
      if (e.code === "commander.missingArgument" || e.code === "commander.unknownOption" || e.code === "commander.unknownCommand" ||
          e.code === "commander.optionMissingArgument" || e.code === "commander.missingMandatoryOptionValue" || e.code === "commander.excessArguments" ||
          e.code === "commander.invalidArgument" || e.code === "commander.conflictingOption") {
        process.stderr.write(errorLine(asTyped(captured.trim() || e.message, argv)) + "\n");
        return 2;
      }
      if (captured.trim().startsWith("Usage:")) {
        process.stderr.write(captured);
        return e.exitCode || 1;
      }
      process.stderr.write(errorLine(captured.trim() || e.message) + "\n");
      return e.exitCode || 1;
    }
    if (debugFlag && e instanceof Error && e.stack) process.stderr.write(e.stack + "\n");
    // a usage error of a multi-process run: every rank hits it the same way; rank 0 reports it
    // and the ranks end MPI together (no abort banner); a rank that did not fail times the finalize out
    const usage = e instanceof CliError || e instanceof ConfigError || e instanceof PeftError;
    const g = activeProcessGroup();
    if (usage && g && g.worldSize > 1) {
      if (g.rank === 0) process.stderr.write(errorLine(e) + "\n");
      g.timeoutMs = Math.min(g.timeoutMs, 20_000);
      g.finalize();
      return e instanceof CliError ? e.exitCode : 2;
    }
    process.stderr.write(errorLine(e) + "\n");
    return e instanceof CliError ? e.exitCode : 1;
  }
}

/** Shows flags in error messages as the user typed them (--foo_bar, not the rewritten --foo-bar). */
function asTyped(msg: string, argv: string[]): string {
  return msg.replace(/'(--[\w-]+)( [<[][^>\]]+[>\]])?'/g, (m, flag: string) => {
    const orig = argv.find((a) => a.startsWith("--") && a.split("=")[0].replace(/_/g, "-") === flag);
    return orig ? `'${orig.split("=")[0]}'` : m;
  });
}

async function selectBackend(name: string): Promise<void> {
  const reg = (await import("../backend/registry.js")) as { setBackend: (n: string) => void };
  reg.setBackend(name);
}

function isEntry(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isEntry()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(errorLine(e) + "\n");
      process.exitCode = 1;
    },
  );
}
