/** `mosaicbert embed --model DIR [--pooling mean] [--normalize] [TEXT...] [--file F]`: JSONL embeddings. */
import type { Command } from 'commander';
import { createFeatureExtractionPipeline } from '../pipelines/feature_extraction.js';
import { defaultMaxLength } from '../pipelines/common.js';
import { inGroups, intOption, readInputs, withJsonlOutput, addPipelineOptions, pipelineOptionsOf, type PipelineCliOptions } from './pipeline_io.js';
import { parseEncodingErrors } from '../data/utf8.js';

export function registerEmbed(program: Command): void {
  addPipelineOptions(program
    .command('embed')
    .description('Feature extraction; one JSON line per input: {"input", "dims", "embedding"} with embedding ' +
      'number[H] (mean/cls pooling) or number[tokens][H] (pooling none, the input\'s own tokens, no padding)')
    .argument('[text...]', 'texts')
    .requiredOption('--model <dir>', 'Hugging Face model folder (config.json + weights)')
    .option('--file <f>', "inputs, one per line ('-' = stdin)")
    .option('--pooling <p>', "'mean' (padding ignored), 'cls' or 'none'", 'mean')
    .option('--normalize', 'L2-normalize each vector', false)
  ).action(async (texts: string[], o: PipelineCliOptions & { pooling: string; normalize: boolean }) => {
      if (!['mean', 'cls', 'none'].includes(o.pooling)) throw new Error(`--pooling must be mean, cls or none, got '${o.pooling}'`);
      const pooling = o.pooling as 'mean' | 'cls' | 'none';
      const inputs = readInputs(texts, o.file, parseEncodingErrors(o.encodingErrors));
      const bs = intOption(o.batchSize, '--batch-size', 32)!;
      await withJsonlOutput(o.out, async (write) => {
        const p = await createFeatureExtractionPipeline(o.model, pipelineOptionsOf(o));
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
