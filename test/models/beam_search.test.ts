// Beam search against transformers' generate() on the tiny random GPT-2 and Llama goldens
// (fixtures by scripts/fixtures/make_beam_fixtures.py): beams 3 and 4, length_penalty 0.5/1/2,
// early_stopping false/true/"never", EOS (one and two ids), min_new_tokens, no_repeat_ngram_size,
// repetition_penalty, a left-padded batch of 2 and num_return_sequences 2; identical token ids,
// on the TS and the native backend. Plus the step-function contract the encoder–decoders use.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AutoModelForCausalLM } from "../../src/models/auto.js";
import { bannedNgramTokens, beamSearch, type BeamSearchModel } from "../../src/models/beam_search.js";
import { setBackend, getBackend } from "../../src/backend/registry.js";
import { loadNativeBackend } from "../../src/backend/native/index.js";
import { ConfigError } from "../../src/tensor/errors.js";
import { GOLDEN } from "./helpers.js";

interface Case { name: string; inputIds: number[][]; attentionMask: number[][]; options: Record<string, unknown>; sequences: number[][] }
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/beam/${name}.json`, import.meta.url), "utf8")) as { cases: Case[] };

for (const backend of ["ts", "native"] as const) {
  for (const name of ["gpt2-tiny-random", "llama-tiny-random"]) {
    test(`beam search equals transformers generate() token for token: ${name}, ${backend} backend`, async (t) => {
      if (backend === "native" && !loadNativeBackend({ required: false })) return t.skip("native addon not built here (npm run build:native): native backend not checked");
      const before = getBackend().name;
      setBackend(backend);
      try {
        const model = await AutoModelForCausalLM.fromPretrained(join(GOLDEN, name));
        for (const c of fixture(name).cases) {
          const got = model.generate(c.inputIds, { attentionMask: c.attentionMask, ...c.options });
          assert.deepEqual(got, c.sequences, `${c.name} ${JSON.stringify(c.options)}`);
        }
      } finally {
        setBackend(before as "ts" | "native");
      }
    });
  }
}

test("beam search without the KV cache gives the same beams", async () => {
  const model = await AutoModelForCausalLM.fromPretrained(join(GOLDEN, "llama-tiny-random"));
  for (const c of fixture("llama-tiny-random").cases.filter((x) => /padded_batch_eos|return2_batch/.test(x.name))) {
    assert.deepEqual(model.generate(c.inputIds, { attentionMask: c.attentionMask, ...c.options, useCache: false }), c.sequences, c.name);
  }
});

test("no_repeat_ngram_size bans the token that would complete a seen n-gram (by hand)", () => {
  assert.deepEqual(bannedNgramTokens([5, 6, 7, 5, 6], 3), [7]);
  assert.deepEqual(bannedNgramTokens([1, 2, 1, 3, 1], 2), [2, 3]);
  assert.deepEqual(bannedNgramTokens([1, 2], 3), []);
  assert.deepEqual(bannedNgramTokens([4, 4, 4], 1), [4, 4, 4]);
});

test("step-function contract: the cache handed to step() always belongs to the rows it is given", () => {
  // a toy model whose cache is each row's history: after reorderCache, row r's cache must equal
  // its sequence minus the last token, whichever beams were kept or swapped
  const V = 7;
  let steps = 0;
  const toy: BeamSearchModel<number[][]> = {
    step(seqs, cache) {
      if (cache) seqs.forEach((s, r) => assert.deepEqual(cache[r], s.slice(0, -1), `row ${r} at step ${steps}`));
      steps++;
      const logits = new Float32Array(seqs.length * V);
      seqs.forEach((s, r) => { for (let v = 0; v < V; v++) logits[r * V + v] = Math.sin(1 + v * 1.7 + s.reduce((a, x, i) => a + x * (i + 2), 0)); });
      return { logits, vocabSize: V, cache: seqs.map((s) => s.slice()) };
    },
    reorderCache: (cache, idx) => idx.map((i) => cache[i]),
  };
  const out = beamSearch(toy, [[1, 2], [3, 4]], { numBeams: 3, maxNewTokens: 6, eosTokenIds: [0], numReturnSequences: 2 });
  assert.equal(out.length, 4);
  assert.ok(steps >= 2);
  out.forEach((r, i) => assert.deepEqual(r.slice(0, 2), i < 2 ? [1, 2] : [3, 4]));
});

test("beam search options are checked: ConfigErrors name the option", async () => {
  const model = await AutoModelForCausalLM.fromPretrained(join(GOLDEN, "gpt2-tiny-random"));
  const bad = (o: object, re: RegExp) => assert.throws(() => model.generate([[5, 6]], { maxNewTokens: 3, ...o }), (e: unknown) => e instanceof ConfigError && re.test(e.message), re.source);
  bad({ numBeams: 2, numReturnSequences: 3 }, /numReturnSequences \(3\) must be ≤ numBeams \(2\)/);
  bad({ numBeams: 2, earlyStopping: "sometimes" }, /earlyStopping must be true, false or "never"/);
  bad({ numBeams: 2, doSample: true }, /beam sampling/);
  bad({ numBeams: 0 }, /numBeams must be a positive integer/);
  bad({ numReturnSequences: 2 }, /needs beam search/);
  bad({ numBeams: 2, noRepeatNgramSize: -1 }, /noRepeatNgramSize/);
});

test("generation_config.json's num_beams / length_penalty / early_stopping become generate()'s defaults", async () => {
  const dir = mkdtempSync(join(tmpdir(), "beam-gencfg-"));
  try {
    for (const f of ["config.json", "model.safetensors"]) symlinkSync(join(GOLDEN, "gpt2-tiny-random", f), join(dir, f));
    const c = fixture("gpt2-tiny-random").cases.find((x) => x.name === "beam4_lp0.5_early_true")!;
    writeFileSync(join(dir, "generation_config.json"), JSON.stringify({ eos_token_id: 0, num_beams: 4, length_penalty: 0.5, early_stopping: true }));
    const model = await AutoModelForCausalLM.fromPretrained(dir);
    assert.deepEqual(model.generate(c.inputIds, { maxNewTokens: 10 }), c.sequences);
    writeFileSync(join(dir, "generation_config.json"), JSON.stringify({ early_stopping: "sometimes" }));
    await assert.rejects(AutoModelForCausalLM.fromPretrained(dir), (e: unknown) => e instanceof ConfigError && /'early_stopping' must be true, false or "never"/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
