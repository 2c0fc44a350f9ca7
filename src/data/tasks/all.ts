// Imports every task file once so that each registers itself (tasks/registry.ts); the order here
// is the order `--task` lists them in.
import "./seq_cls_task.js";
import "./token_cls_task.js";
import "./qa_task.js";
import "./causal_lm_task.js";
import "./seq2seq_task.js";
