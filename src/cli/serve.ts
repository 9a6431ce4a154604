/**
 * `mosaicbert serve --model DIR`: the HTTP inference server (src/serve/). Prints one JSON line when ready and one
 * per request; SIGTERM / SIGINT drain admitted requests (up to --grace-period) and exit 0 when all finished,
 * 1 otherwise; a second signal exits at once. The model runs in a worker thread unless --no-worker; if that worker
 * cannot be kept running (src/serve/worker_host.ts), the command logs a `fatal` line and exits 1.
 */
import type { Command } from 'commander';
import { startServer } from '../serve/server.js';
import { intOpt } from './options.js';
import { intOption } from './pipeline_io.js';

interface ServeFlags {
  model: string; host: string; port: string; dtype?: string; maxBatchTokens: string; maxBatchRequests?: string; maxBatchWaitMs: string;
  maxConcurrentRequests: string; maxInputLength?: string; maxClientBatchSize: string; requestTimeout: string;
  payloadLimit: string; gracePeriod: string; modelId?: string; worker: boolean;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('HTTP inference server with dynamic unpadded batching: POST /embed, /v1/embeddings (OpenAI), ' +
      '/predict, /fill-mask; GET /health, /info, /metrics (Prometheus)')
    .requiredOption('--model <dir>', 'Hugging Face model folder (config.json + weights + vocab.txt)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0: any free port)', '8080')
    .option('--dtype <d>', "fp32 (pre-packed; sparse kernels for pruned weights) or q8 (INT8 projections); default: the folder's own")
    .option('--max-batch-tokens <n>', 'tokens per batch (unpadded; a CPU default: ~3 s of base-model compute on 2 cores)', '2048')
    .option('--max-batch-requests <n>', 'inputs per batch (1: one input at a time, no dynamic batching)')
    .option('--max-batch-wait-ms <ms>', 'after a batch, how long the next may wait for the inputs its clients re-send ' +
      '(up to as many as the last batch held; 0: form it at once)', '20')
    .option('--max-concurrent-requests <n>', 'requests admitted at once (queued or running); more get 429', '512')
    .option('--max-input-length <n>', 'longest input in tokens (default: config alibi_starting_size, at most --max-batch-tokens)')
    .option('--max-client-batch-size <n>', 'most inputs in one request', '32')
    .option('--request-timeout <ms>', 'per-request deadline (503 after it)', '30000')
    .option('--payload-limit <bytes>', 'largest request body (413 above it)', '2000000')
    .option('--grace-period <ms>', 'on SIGTERM/SIGINT, how long admitted requests may take to finish', '30000')
    .option('--model-id <name>', 'name reported by /info and in OpenAI responses (default: the folder)')
    .option('--no-worker', 'run the model on the event loop\'s thread instead of a worker thread (debugging; every ' +
      'batch then blocks HTTP while it computes)')
    .action(async (o: ServeFlags) => {
      const int = (v: string | undefined, flag: string) => intOption(v, flag, undefined);
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be an integer in [0, 65535], got '${o.port}'`);
      const grace = int(o.gracePeriod, '--grace-period')!;
      const log = (l: Record<string, unknown>) => process.stdout.write(JSON.stringify(l) + '\n');
      let stopping = false;
      const server = await startServer({
        model: o.model, host: o.host, port, dtype: o.dtype,
        maxBatchTokens: int(o.maxBatchTokens, '--max-batch-tokens'),
        maxBatchRequests: int(o.maxBatchRequests, '--max-batch-requests'),
        maxBatchWaitMs: intOpt(o.maxBatchWaitMs, '--max-batch-wait-ms', 0),
        maxConcurrentRequests: int(o.maxConcurrentRequests, '--max-concurrent-requests'),
        maxInputLength: int(o.maxInputLength, '--max-input-length'),
        maxClientBatchSize: int(o.maxClientBatchSize, '--max-client-batch-size'),
        requestTimeoutMs: int(o.requestTimeout, '--request-timeout'),
        payloadLimit: int(o.payloadLimit, '--payload-limit'),
        modelId: o.modelId, log, worker: o.worker,
        onFatal: () => {
          // The host logged the reason and fails every batch with 503; stop taking requests and exit non-zero.
          if (stopping) return;
          stopping = true;
          void server.drain(1000).then(() => process.exit(1), () => process.exit(1));
        },
      });
      const stop = (signal: string) => {
        if (stopping) { log({ time: new Date().toISOString(), event: 'exit', signal, drained: false }); process.exit(1); }
        stopping = true;
        log({ time: new Date().toISOString(), event: 'draining', signal, in_flight: server.batcher.inFlight,
          queued_inputs: server.batcher.depth, grace_ms: grace });
        void server.drain(grace).then((ok) => {
          log({ time: new Date().toISOString(), event: 'stopped', drained: ok });
          process.exit(ok ? 0 : 1);
        });
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}
