// What tokenizing a batch of serve inputs costs (src/serve/engine.ts: embed and fill-mask inputs are tokenized on
// the HTTP thread to count and check them, and again by the pipeline in the model worker): 32 texts of 16 and of 128
// tokens through the bert-base-uncased BertTokenizer, as the server encodes them (max_length = the input's tokens).
//
//   npm run build && flock /tmp/cpu-bench.lock node bench/tokenize_cost.mjs
import { BertTokenizer } from '../dist/src/tokenizer/bert_tokenizer.js';

const tok = await BertTokenizer.fromVocabFile(new URL('../assets/bert-base-uncased/vocab.txt', import.meta.url).pathname);
for (const n of [16, 128]) {
  const texts = Array.from({ length: 32 }, (_, i) => `${i} ` + 'serving embeddings '.repeat(Math.ceil((n - 3) / 2)));
  const run = () => Promise.all(texts.map((t) => tok.encode(t, undefined, { max_length: n })));
  for (let r = 0; r < 20; r++) await run();
  const reps = 50, t0 = performance.now();
  for (let r = 0; r < reps; r++) await run();
  const got = (await run())[0].input_ids.length;
  console.log(`${n}-token inputs (${got} after truncation): ${((performance.now() - t0) / reps).toFixed(2)} ms per 32 inputs`);
}
