/** `mosaicbert embed --model DIR [--pooling mean] [--normalize] [TEXT...] [--file F]`: JSONL embeddings. */
import type { Command } from 'commander';
import { createFeatureExtractionPipeline } from '../pipelines/feature_extraction.js';
import { defaultMaxLength } from '../pipelines/common.js';
import { inGroups, intOption, readInputs, withJsonlOutput, parseDtype } from './pipeline_io.js';
import { parseEncodingErrors } from '../data/utf8.js';

export function registerEmbed(program: Command): void {
  program
    .command('embed')
    .description('Feature extraction; one JSON line per input: {"input", "dims", "embedding"} with embedding ' +
      'number[H] (mean/cls pooling) or number[tokens][H] (pooling none, the input\'s own tokens, no padding)')
    .argument('[text...]', 'texts')
    .requiredOption('--model <dir>', 'Hugging Face model folder (config.json + weights)')
    .option('--file <f>', "inputs, one per line ('-' = stdin)")
    .option('--pooling <p>', "'mean' (padding ignored), 'cls' or 'none'", 'mean')
    .option('--normalize', 'L2-normalize each vector', false)
    .option('--max-length <n>', 'truncate inputs to this many tokens (default: config alibi_starting_size)')
    .option('--batch-size <n>', 'inputs per pipeline call', '32')
    .option('--out <file>', 'JSONL output (default stdout); written to a temporary file and renamed when every input succeeded')
    .option('--encoding-errors <mode>', "--file bytes that are not UTF-8: 'strict' (an error naming the byte offset) or 'replace' (U+FFFD)", 'strict')
    .option('--allow-missing-weights', 'load a model folder that lacks encoder/embedding weights (randomly initialised, with a warning)', false)
    .option('--dtype <dtype>', 'fp32 (weights pre-packed; sparse kernels for pruned weights) or q8 (INT8 projections); default: fp32, or int8 for a quantized folder')
    .action(async (texts: string[], o: { model: string; file?: string; pooling: string; normalize: boolean; maxLength?: string; batchSize: string; out?: string; encodingErrors: string; allowMissingWeights: boolean; dtype?: string }) => {
      if (!['mean', 'cls', 'none'].includes(o.pooling)) throw new Error(`--pooling must be mean, cls or none, got '${o.pooling}'`);
      const pooling = o.pooling as 'mean' | 'cls' | 'none';
      const inputs = readInputs(texts, o.file, parseEncodingErrors(o.encodingErrors));
      const bs = intOption(o.batchSize, '--batch-size', 32)!;
      await withJsonlOutput(o.out, async (write) => {
        const p = await createFeatureExtractionPipeline(o.model, { max_length: intOption(o.maxLength, '--max-length', undefined),
          load: { allowMissingWeights: o.allowMissingWeights }, dtype: o.dtype === undefined ? undefined : parseDtype(o.dtype) });
        await inGroups(inputs, bs, async (b): Promise<Array<{ dims: number[]; embedding: number[] | number[][] }>> => {
          const texts = b.map((x) => x.text);
          const t = await p(texts, { pooling, normalize: o.normalize });
          const H = t.dims[t.dims.length - 1];
          if (pooling !== 'none') return texts.map((_, i) => ({ dims: [H], embedding: Array.from(t.data.subarray(i * H, (i + 1) * H)) }));
          const S = t.dims[1];
          const lens = await Promise.all(texts.map(async (x) => (await p.tokenizer.encode(x, undefined,
            { max_length: intOption(o.maxLength, '--max-length', defaultMaxLength(p.model.config)) })).input_ids.length));
          return texts.map((_, i) => ({ dims: [lens[i], H], embedding: Array.from({ length: lens[i] },
            (_, s) => Array.from(t.data.subarray((i * S + s) * H, (i * S + s + 1) * H))) }));
        }, (inp, r) => write({ input: inp.text, ...r }));
      });
    });
}
