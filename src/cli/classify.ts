/** `mosaicbert classify --model DIR [--top-k N] [TEXT...] [--file F]`: JSONL `{input, result}` per input. */
import type { Command } from 'commander';
import { createTextClassificationPipeline, type ClassificationInput } from '../pipelines/text_classification.js';
import { inGroups, intOption, readInputs, withJsonlOutput, parseDtype } from './pipeline_io.js';
import { parseEncodingErrors } from '../data/utf8.js';

export function registerClassify(program: Command): void {
  program
    .command('classify')
    .description('Text classification; one JSON line per input: {"input", "result"} where result is ' +
      '[{label, score}] (top-k, best first). In --file, a line "TEXT<TAB>PAIR" is a sentence pair')
    .argument('[text...]', 'texts')
    .requiredOption('--model <dir>', 'Hugging Face model folder (config.json + weights)')
    .option('--file <f>', "inputs, one per line, TEXT or TEXT<TAB>PAIR ('-' = stdin)")
    .option('--top-k <n>', 'labels per input', '1')
    .option('--max-length <n>', 'truncate inputs to this many tokens (default: config alibi_starting_size)')
    .option('--batch-size <n>', 'inputs per pipeline call', '32')
    .option('--out <file>', 'JSONL output (default stdout); written to a temporary file and renamed when every input succeeded')
    .option('--encoding-errors <mode>', "--file bytes that are not UTF-8: 'strict' (an error naming the byte offset) or 'replace' (U+FFFD)", 'strict')
    .option('--allow-missing-weights', 'load a model folder that lacks encoder/embedding weights (randomly initialised, with a warning)', false)
    .option('--dtype <dtype>', 'fp32 (weights pre-packed; sparse kernels for pruned weights) or q8 (INT8 projections); default: fp32, or int8 for a quantized folder')
    .action(async (texts: string[], o: { model: string; file?: string; topK: string; maxLength?: string; batchSize: string; out?: string; encodingErrors: string; allowMissingWeights: boolean; dtype?: string }) => {
      const inputs = readInputs(texts, o.file, parseEncodingErrors(o.encodingErrors));
      const items: ClassificationInput[] = inputs.map((x) => {
        if (!x.fromFile) return x.text;   // arguments are single texts
        const f = x.text.split('\t');
        if (f.length > 2) throw new Error(`${x.where}: expected TEXT or TEXT<TAB>PAIR, found ${f.length} tab-separated fields`);
        return f.length === 2 ? { text: f[0], text_pair: f[1] } : f[0];
      });
      const topK = intOption(o.topK, '--top-k', 1)!, bs = intOption(o.batchSize, '--batch-size', 32)!;
      await withJsonlOutput(o.out, async (write) => {
        const p = await createTextClassificationPipeline(o.model, { max_length: intOption(o.maxLength, '--max-length', undefined),
          load: { allowMissingWeights: o.allowMissingWeights }, dtype: o.dtype === undefined ? undefined : parseDtype(o.dtype) });
        const index = new Map(inputs.map((x, i) => [x, i]));
        await inGroups(inputs, bs, async (b) => {
          const r = await p(b.map((x) => items[index.get(x)!]), { top_k: topK });
          return topK === 1 ? (r as unknown[]).map((x) => [x]) : (r as unknown[]);
        }, (inp, result) => write({ input: items[index.get(inp)!], result }));
      });
    });
}
