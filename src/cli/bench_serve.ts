/** `mosaicbert bench serve`: HTTP serving benchmark (src/bench/serve.ts); writes bench/RESULTS.md. */
import type { Command } from 'commander';
import { runServeBench } from '../bench/serve.js';
import { intOption } from './pipeline_io.js';

export function registerBenchServe(bench: Command): void {
  bench
    .command('serve')
    .description('HTTP serving on loopback (autocannon), MosaicBERT-base shape, 16/128 tokens x 1/8/32 connections: ' +
      'dynamic batching vs one input at a time vs transformers.js on ONNX Runtime, plus a 4x overload run')
    .option('--duration <s>', 'measured seconds per case', '6')
    .option('--threads <n>', 'threads of every engine', '2')
    .option('--max-batch-tokens <n>', "token budget of (a)'s batches", '2048')
    .option('--out <file>', 'results file', 'bench/RESULTS.md')
    .action(async (o: { duration: string; threads: string; maxBatchTokens: string; out: string }) => {
      const duration = intOption(o.duration, '--duration', 6)!, threads = intOption(o.threads, '--threads', 2)!;
      const maxBatchTokens = intOption(o.maxBatchTokens, '--max-batch-tokens', 2048)!;
      const command = ['node bin/mosaicbert.js bench serve', o.duration !== '6' ? `--duration ${o.duration}` : '',
        o.threads !== '2' ? `--threads ${o.threads}` : '', o.maxBatchTokens !== '2048' ? `--max-batch-tokens ${o.maxBatchTokens}` : '']
        .filter(Boolean).join(' ');
      await runServeBench({ duration, threads, maxBatchTokens, out: o.out, command });
    });
}
