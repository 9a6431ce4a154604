/** `mosaicbert fill-mask --model DIR [--top-k N] [TEXT...] [--file F]`: JSONL `{input, result}` per input. */
import type { Command } from 'commander';
import { createFillMaskPipeline } from '../pipelines/fill_mask.js';
import { inGroups, intOption, readInputs, withJsonlOutput, addPipelineOptions, pipelineOptionsOf, type PipelineCliOptions } from './pipeline_io.js';
import { parseEncodingErrors } from '../data/utf8.js';

export function registerFillMask(program: Command): void {
  addPipelineOptions(program
    .command('fill-mask')
    .description('Top-k tokens for each [MASK]; one JSON line per input: {"input", "result"} where result is ' +
      '[{score, token, token_str, sequence}] (a list of such lists when the input has several [MASK]s)')
    .argument('[text...]', 'texts with [MASK]')
    .requiredOption('--model <dir>', 'Hugging Face model folder (config.json + weights)')
    .option('--file <f>', "inputs, one per line ('-' = stdin)")
    .option('--top-k <n>', 'candidates per mask', '5')
  ).action(async (texts: string[], o: PipelineCliOptions & { topK: string }) => {
      const inputs = readInputs(texts, o.file, parseEncodingErrors(o.encodingErrors));
      const topK = intOption(o.topK, '--top-k', 5), bs = intOption(o.batchSize, '--batch-size', 32)!;
      await withJsonlOutput(o.out, async (write) => {
        const p = await createFillMaskPipeline(o.model, pipelineOptionsOf(o));
        await inGroups(inputs, bs, (b) => p(b.map((x) => x.text), { top_k: topK }), (inp, result) => write({ input: inp.text, result }));
      });
    });
}
