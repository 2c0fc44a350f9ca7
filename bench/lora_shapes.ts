// The bench models' shapes and LoRA targets (torch_peft_bench.py's), apart from bench/lora.ts so that
// the browser bench (bench/web/) can bundle them: no Node built-ins here.
export type ModelName = "bert-small" | "bert-base" | "llama-small";
export const SHAPES: Record<ModelName, { kind: "bert" | "llama"; batch: number; seq: number; hf: Record<string, unknown> }> = {
  "bert-small": {
    kind: "bert", batch: 8, seq: 128,
    hf: {
      model_type: "bert", vocab_size: 30522, hidden_size: 512, num_hidden_layers: 4, num_attention_heads: 8, intermediate_size: 2048,
      max_position_embeddings: 512, type_vocab_size: 2, num_labels: 2, layer_norm_eps: 1e-12, hidden_act: "gelu",
      hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
    },
  },
  "bert-base": {
    kind: "bert", batch: 8, seq: 128,
    hf: {
      model_type: "bert", vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072,
      max_position_embeddings: 512, type_vocab_size: 2, num_labels: 2, layer_norm_eps: 1e-12, hidden_act: "gelu",
      hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
    },
  },
  "llama-small": {
    kind: "llama", batch: 4, seq: 256,
    hf: {
      model_type: "llama", vocab_size: 32000, hidden_size: 512, num_hidden_layers: 8, num_attention_heads: 8, num_key_value_heads: 8,
      intermediate_size: 1376, rope_theta: 10000.0, rms_norm_eps: 1e-6, tie_word_embeddings: false, max_position_embeddings: 2048,
      hidden_act: "silu", attention_dropout: 0.0,
    },
  },
};

/** LoRA targets matching torch_peft_bench.py's BERT_LORA(_ALL) / LLAMA_LORA(_ALL) (blocks only: no pooler, no lm_head). */
export function loraTargets(model: ModelName, all: boolean): string[] {
  if (SHAPES[model].kind === "bert") return all ? ["query", "key", "value", "output.dense", "intermediate.dense"] : ["query", "value"];
  return all ? ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] : ["q_proj", "v_proj"];
}
