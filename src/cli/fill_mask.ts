/** `mosaicbert fill-mask --model DIR [--top-k N] [TEXT...] [--file F]`: JSONL `{input, result}` per input. */
import type { Command } from 'commander';
import { createFillMaskPipeline } from '../pipelines/fill_mask.js';
import { inGroups, intOption, readInputs, withJsonlOutput, parseDtype } from './pipeline_io.js';
import { parseEncodingErrors } from '../data/utf8.js';

export function registerFillMask(program: Command): void {
  program
    .command('fill-mask')
    .description('Top-k tokens for each [MASK]; one JSON line per input: {"input", "result"} where result is ' +
      '[{score, token, token_str, sequence}] (a list of such lists when the input has several [MASK]s)')
    .argument('[text...]', 'texts with [MASK]')
    .requiredOption('--model <dir>', 'Hugging Face model folder (config.json + weights)')
    .option('--file <f>', "inputs, one per line ('-' = stdin)")
    .option('--top-k <n>', 'candidates per mask', '5')
    .option('--max-length <n>', 'truncate inputs to this many tokens (default: config alibi_starting_size)')
    .option('--batch-size <n>', 'inputs per pipeline call', '32')
    .option('--out <file>', 'JSONL output (default stdout); written to a temporary file and renamed when every input succeeded')
    .option('--encoding-errors <mode>', "--file bytes that are not UTF-8: 'strict' (an error naming the byte offset) or 'replace' (U+FFFD)", 'strict')
    .option('--allow-missing-weights', 'load a model folder that lacks encoder/embedding weights (randomly initialised, with a warning)', false)
    .option('--dtype <dtype>', 'fp32 (weights pre-packed; sparse kernels for pruned weights) or q8 (INT8 projections); default: fp32, or int8 for a quantized folder')
    .action(async (texts: string[], o: { model: string; file?: string; topK: string; maxLength?: string; batchSize: string; out?: string; encodingErrors: string; allowMissingWeights: boolean; dtype?: string }) => {
      const inputs = readInputs(texts, o.file, parseEncodingErrors(o.encodingErrors));
      const topK = intOption(o.topK, '--top-k', 5), bs = intOption(o.batchSize, '--batch-size', 32)!;
      await withJsonlOutput(o.out, async (write) => {
        const p = await createFillMaskPipeline(o.model, { max_length: intOption(o.maxLength, '--max-length', undefined),
          load: { allowMissingWeights: o.allowMissingWeights }, dtype: o.dtype === undefined ? undefined : parseDtype(o.dtype) });
        await inGroups(inputs, bs, (b) => p(b.map((x) => x.text), { top_k: topK }), (inp, result) => write({ input: inp.text, result }));
      });
    });
}
