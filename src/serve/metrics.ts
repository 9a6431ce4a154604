/**
 * Prometheus metrics of the server (prom-client, one registry per server, served as text at `GET /metrics`):
 * queue depth, requests in flight, batch size (inputs) and tokens-per-batch histograms, batch compute time,
 * request latency by route and status, queue time, token counters and the smoothed tokens/s of the batches, plus
 * prom-client's default process metrics (memory, CPU, event-loop lag) under the `mosaicbert_` prefix.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchStats } from './batcher.js';

/** Powers of two from 1 to `max` (bucket bounds for counts). */
function pow2(max: number): number[] {
  const out: number[] = [];
  for (let x = 1; x <= max; x *= 2) out.push(x);
  return out;
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly queueDepth: Gauge;
  readonly inFlight: Gauge;
  readonly batchSize: Histogram;
  readonly batchTokens: Histogram;
  readonly batchSeconds: Histogram;
  readonly requestSeconds: Histogram;
  readonly queueSeconds: Histogram;
  readonly requests: Counter;
  readonly tokens: Counter;
  readonly tokensPerSecond: Gauge;

  /**
   * @param sample Reads the live queue depth, requests in flight and smoothed tokens/s at scrape time.
   * @param maxBatchTokens Top of the tokens-per-batch buckets.
   */
  constructor(sample: () => { depth: number; inFlight: number; tokensPerSecond: number }, maxBatchTokens: number) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'mosaicbert_' });
    this.queueDepth = new Gauge({ name: 'mosaicbert_queue_depth', help: 'Inputs waiting for a batch', registers,
      collect() { this.set(sample().depth); } });
    this.inFlight = new Gauge({ name: 'mosaicbert_requests_in_flight', help: 'Requests admitted and not finished',
      registers, collect() { this.set(sample().inFlight); } });
    this.tokensPerSecond = new Gauge({ name: 'mosaicbert_tokens_per_second',
      help: 'Tokens per second of compute (moving average over batches)', registers,
      collect() { this.set(sample().tokensPerSecond); } });
    this.batchSize = new Histogram({ name: 'mosaicbert_batch_size', help: 'Inputs per batch', registers,
      buckets: pow2(1024) });
    this.batchTokens = new Histogram({ name: 'mosaicbert_batch_tokens', help: 'Tokens per batch (unpadded)', registers,
      buckets: pow2(Math.max(2, maxBatchTokens)) });
    this.batchSeconds = new Histogram({ name: 'mosaicbert_batch_duration_seconds', help: 'Compute time of one batch',
      registers, buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
    this.requestSeconds = new Histogram({ name: 'mosaicbert_request_duration_seconds',
      help: 'Request latency, arrival to response', labelNames: ['route', 'status'], registers,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
    this.queueSeconds = new Histogram({ name: 'mosaicbert_queue_duration_seconds',
      help: 'Time from admission to the first batch holding the request', registers,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
    this.requests = new Counter({ name: 'mosaicbert_requests_total', help: 'Requests answered, by route and status',
      labelNames: ['route', 'status'], registers });
    this.tokens = new Counter({ name: 'mosaicbert_tokens_total', help: 'Tokens computed', registers });
  }

  /** Records one batch. */
  batch(s: BatchStats): void {
    this.batchSize.observe(s.items);
    this.batchTokens.observe(s.tokens);
    this.batchSeconds.observe(s.computeMs / 1000);
    this.tokens.inc(s.tokens);
  }

  /** Records one answered request. */
  request(route: string, status: number, seconds: number, queueSeconds?: number): void {
    this.requests.inc({ route, status: String(status) });
    this.requestSeconds.observe({ route, status: String(status) }, seconds);
    if (queueSeconds !== undefined) this.queueSeconds.observe(queueSeconds);
  }
}
