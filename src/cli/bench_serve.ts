/** `mosaicbert bench serve`: HTTP serving benchmark (src/bench/serve.ts); writes bench/RESULTS.md. */
import type { Command } from 'commander';
import { runServeBench } from '../bench/serve.js';
import { DEFAULT_SERVE_VARIANTS, SERVE_VARIANT_IDS, parseServeVariants } from '../bench/serve_variants.js';
import { intOption } from './pipeline_io.js';

export function registerBenchServe(bench: Command): void {
  bench
    .command('serve')
    .description('HTTP serving on loopback (autocannon), MosaicBERT-base shape, 16/128 tokens x 1/8/32 connections: ' +
      'dynamic batching vs one input at a time vs transformers.js on ONNX Runtime, plus a 4x overload run; ' +
      '--variants adds INT8 (q8, peer-q8), 90%-sparse (sparse, sparse-q8) a 4096-token budget (batched-4096), (a) without the refill wait (batched-nowait) and (a) with the model on the event loop\'s thread (batched-inproc, --no-worker)')
    .option('--duration <s>', 'measured seconds per case', '6')
    .option('--threads <n>', 'threads of every engine', '2')
    .option('--max-batch-tokens <n>', "token budget of (a)'s batches", '2048')
    .option('--variants <ids>', `server rows, comma-separated, or all (${SERVE_VARIANT_IDS.join(', ')})`,
      DEFAULT_SERVE_VARIANTS.join(','))
    .option('--out <file>', 'results file', 'bench/RESULTS.md')
    .action(async (o: { duration: string; threads: string; maxBatchTokens: string; variants: string; out: string }) => {
      const variants = parseServeVariants(o.variants);
      const duration = intOption(o.duration, '--duration', 6)!, threads = intOption(o.threads, '--threads', 2)!;
      const maxBatchTokens = intOption(o.maxBatchTokens, '--max-batch-tokens', 2048)!;
      const command = ['node bin/mosaicbert.js bench serve', o.duration !== '6' ? `--duration ${o.duration}` : '',
        o.threads !== '2' ? `--threads ${o.threads}` : '', o.maxBatchTokens !== '2048' ? `--max-batch-tokens ${o.maxBatchTokens}` : '',
        o.variants !== DEFAULT_SERVE_VARIANTS.join(',') ? `--variants ${o.variants}` : '']
        .filter(Boolean).join(' ');
      await runServeBench({ duration, threads, maxBatchTokens, out: o.out, command, variants });
    });
}
