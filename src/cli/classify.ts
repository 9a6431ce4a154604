/** `mosaicbert classify --model DIR [--top-k N] [TEXT...] [--file F]`: JSONL `{input, result}` per input. */
import type { Command } from 'commander';
import { createTextClassificationPipeline, type ClassificationInput } from '../pipelines/text_classification.js';
import { inGroups, intOption, readInputs, withJsonlOutput, addPipelineOptions, pipelineOptionsOf, type PipelineCliOptions } from './pipeline_io.js';
import { parseEncodingErrors } from '../data/utf8.js';

export function registerClassify(program: Command): void {
  addPipelineOptions(program
    .command('classify')
    .description('Text classification; one JSON line per input: {"input", "result"} where result is ' +
      '[{label, score}] (top-k, best first). In --file, a line "TEXT<TAB>PAIR" is a sentence pair')
    .argument('[text...]', 'texts')
    .requiredOption('--model <dir>', 'Hugging Face model folder (config.json + weights)')
    .option('--file <f>', "inputs, one per line, TEXT or TEXT<TAB>PAIR ('-' = stdin)")
    .option('--top-k <n>', 'labels per input', '1')
  ).action(async (texts: string[], o: PipelineCliOptions & { topK: string }) => {
      const inputs = readInputs(texts, o.file, parseEncodingErrors(o.encodingErrors));
      const items: ClassificationInput[] = inputs.map((x) => {
        if (!x.fromFile) return x.text;   // arguments are single texts
        const f = x.text.split('\t');
        if (f.length > 2) throw new Error(`${x.where}: expected TEXT or TEXT<TAB>PAIR, found ${f.length} tab-separated fields`);
        return f.length === 2 ? { text: f[0], text_pair: f[1] } : f[0];
      });
      const topK = intOption(o.topK, '--top-k', 1)!, bs = intOption(o.batchSize, '--batch-size', 32)!;
      await withJsonlOutput(o.out, async (write) => {
        const p = await createTextClassificationPipeline(o.model, pipelineOptionsOf(o));
        const index = new Map(inputs.map((x, i) => [x, i]));
        await inGroups(inputs, bs, async (b) => {
          const r = await p(b.map((x) => items[index.get(x)!]), { top_k: topK });
          return topK === 1 ? (r as unknown[]).map((x) => [x]) : (r as unknown[]);
        }, (inp, result) => write({ input: items[index.get(inp)!], result }));
      });
    });
}
