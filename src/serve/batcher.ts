/**
 * Dynamic batching: requests are split into their inputs ("items"), queued in arrival order, and packed into
 * unpadded batches of at most `maxBatchTokens` tokens and `maxBatchRequests` inputs (TEI's scheme). One batch runs
 * at a time. With the model in its worker thread (the server's default, src/serve/worker_host.ts) the event loop is
 * free while a batch computes: requests are read, tokenized and queued as they arrive, /health and /metrics answer,
 * and timeouts and closed clients are noticed during the compute. With the model on the event loop's thread
 * (`worker: false`) the loop is free only between batches (a `setImmediate` turn), so no request waits on the
 * event loop for more than one batch.
 *
 * A batch holds items of one key only (the key names the computation and its options, e.g. `embed|mean|true`):
 * the queue head fixes the key and later items with the same key fill the batch in order, others keep their
 * place. Admission is bounded by `maxRequests` requests in the system (queued or running): beyond it `submit`
 * throws a 429 {@link ServeError} with a `Retry-After` estimated from the measured tokens/s. A request whose
 * `signal` aborts (client gone) or whose timeout passes is dropped: its queued items are skipped, and results of
 * items already in a running batch are discarded.
 *
 * Refill wait (`maxBatchWaitMs`): closed-loop clients (each sends its next request when its last one is answered)
 * re-send only after their batch's responses are written, a few ms after the batch ends. Forming the next batch at
 * once would take the requests that arrived during the compute and only the first of the re-sent ones; at 32
 * connections of 16 tokens the batches then settle into two alternating halves (14-16 inputs on average where 32
 * fit, measured on base with the model on the event loop's thread). This does not depend on where the model runs:
 * in the worker the requests sent during a compute are queued as they arrive, but the answered clients still
 * re-send after the answer. So when a batch's compute ends the loop gives the event loop one turn (with the model on
 * the event loop's thread, this is when the requests sent during the compute are read; in worker mode they are
 * already queued) and then answers the batch's k inputs, with `r` inputs queued; the next batch waits until r + k
 * inputs are queued (the requests expected back), the token or input budget is full, or `maxBatchWaitMs` have
 * passed since the batch was answered (its responses written), whichever comes first (Triton's `max_queue_delay`,
 * here bounded by what the last batch suggests will come back). One client: it waits for that client only.
 * Measured with the model worker on MosaicBERT-base (`bench serve --duration 4 --variants
 * batched,batched-inproc,batched-nowait,peer`, 16 tokens): mean batch 28.5 inputs with the wait vs 14.8 without at 32
 * connections (requests/s about equal, 42.6 vs 40.5), and 7.7 vs 3.9 at 8 connections, where the wait gave 1.75x
 * the requests/s (42.4 vs 24.2); so it stays, default 20 ms, in both modes.
 */
import { ServeError } from './errors.js';

/** One input of a request, with its token count (what the batch budget counts). */
export interface Item<P> {
  tokens: number;
  payload: P;
}

/** Runs one batch: `payloads` of one key, in order; returns one result per payload. */
export type BatchRunner = (key: string, payloads: unknown[]) => Promise<unknown[]>;

/** What one batch did (for metrics). */
export interface BatchStats {
  key: string;
  items: number;
  tokens: number;
  computeMs: number;
}

/** Options of a {@link Batcher}. */
export interface BatcherOptions {
  /** Token budget of one batch (an item longer than this runs alone). */
  maxBatchTokens: number;
  /** Most inputs in one batch (default: no limit but the tokens). 1 runs one input at a time. */
  maxBatchRequests?: number;
  /** Requests admitted at once (queued + running); more get 429. */
  maxRequests: number;
  /**
   * Most ms a batch waits after the previous one for its inputs to be re-sent (see the file comment); default 0
   * (form the next batch at once).
   */
  maxBatchWaitMs?: number;
  /** Per-request deadline in ms from admission; past it the request fails with 503. */
  timeoutMs: number;
  run: BatchRunner;
  /** Called after every batch. */
  onBatch?: (s: BatchStats) => void;
}

/** A request's outcome: results in input order and where its time went. */
export interface JobResult<R> {
  results: R[];
  /** ms from admission to the start of the batch holding its first input. */
  queueMs: number;
  /** ms of the batches that computed its inputs (summed). */
  computeMs: number;
  tokens: number;
}

interface Job {
  results: unknown[];
  remaining: number;
  done: boolean;
  admittedAt: number;
  startedAt: number;
  computeMs: number;
  tokens: number;
  resolve: (r: JobResult<unknown>) => void;
  reject: (e: Error) => void;
  cleanup: () => void;
}

interface QueuedItem {
  job: Job;
  index: number;
  key: string;
  tokens: number;
  payload: unknown;
}

/** The error of a request whose client went away (status 499, as nginx logs it; nobody reads the body). */
function clientClosed(): ServeError {
  return new ServeError(499, 'Validation', 'client closed the connection', null, 'client_closed');
}

export class Batcher {
  private queue: QueuedItem[] = [];
  private running = false;
  private jobs = 0;
  private queuedTokens = 0;
  /** Exponential moving average of tokens/s over batches (for Retry-After). */
  private tokensPerSecond = 0;
  private idleWaiters: Array<() => void> = [];
  /** Inputs expected for the next batch (see the file comment) and when the last batch was answered (ms). */
  private expected = 0;
  private lastEnd = -Infinity;
  /** Wakes the refill wait when inputs arrive. */
  private arrived: (() => void) | null = null;

  constructor(private readonly opts: BatcherOptions) {
    if (!(opts.maxBatchTokens >= 1) || !(opts.maxRequests >= 1) || !(opts.timeoutMs > 0)) {
      throw new Error('Batcher: maxBatchTokens, maxRequests and timeoutMs must be positive');
    }
    if (!((opts.maxBatchWaitMs ?? 0) >= 0)) throw new Error('Batcher: maxBatchWaitMs must be >= 0');
  }

  /** Items waiting (not yet in a batch). */
  get depth(): number { return this.queue.length; }
  /** Requests admitted and not finished. */
  get inFlight(): number { return this.jobs; }
  /** Smoothed tokens/s of the batches so far (0 before the first). */
  get throughput(): number { return this.tokensPerSecond; }

  /**
   * Queues a request's items under `key` and resolves with their results in order.
   * @throws ServeError 429 (queue full, with retryAfterS), 503 (timeout); rejects with an AbortError-like Error
   *   when `signal` aborts; with the runner's error when its batch fails.
   */
  submit<P, R>(key: string, items: Array<Item<P>>, signal?: AbortSignal): Promise<JobResult<R>> {
    if (this.jobs >= this.opts.maxRequests) {
      throw new ServeError(429, 'Overloaded', `model is overloaded: ${this.jobs} requests in flight (limit ` +
        `${this.opts.maxRequests}); retry later`, null, 'queue_full', this.retryAfterS());
    }
    if (signal?.aborted) return Promise.reject(clientClosed());
    this.jobs++;
    return new Promise<JobResult<R>>((resolve, reject) => {
      const job: Job = {
        results: new Array(items.length), remaining: items.length, done: false, admittedAt: performance.now(),
        startedAt: -1, computeMs: 0, tokens: items.reduce((a, it) => a + it.tokens, 0),
        resolve: resolve as (r: JobResult<unknown>) => void, reject, cleanup: () => {},
      };
      const timer = setTimeout(() => this.finish(job, new ServeError(503, 'Overloaded',
        `request timed out after ${this.opts.timeoutMs} ms (queue too long); retry later`, null, 'timeout',
        this.retryAfterS())), this.opts.timeoutMs);
      const onAbort = () => this.finish(job, clientClosed());
      signal?.addEventListener('abort', onAbort, { once: true });
      job.cleanup = () => { clearTimeout(timer); signal?.removeEventListener('abort', onAbort); };
      items.forEach((it, index) => {
        this.queue.push({ job, index, key, tokens: it.tokens, payload: it.payload });
        this.queuedTokens += it.tokens;
      });
      if (items.length === 0) this.finish(job);
      this.arrived?.();
      this.pump();
    });
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.jobs === 0 && !this.running) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Seconds a client should wait: queued tokens at the measured rate, at least 1. */
  retryAfterS(): number {
    const rate = this.tokensPerSecond > 0 ? this.tokensPerSecond : 1000;
    return Math.max(1, Math.ceil(this.queuedTokens / rate));
  }

  private finish(job: Job, err?: Error): void {
    if (job.done) return;
    job.done = true;
    job.cleanup();
    this.jobs--;
    if (err) {
      // Its queued items are dropped now (not left for a batch).
      const keep: QueuedItem[] = [];
      for (const q of this.queue) { if (q.job === job) this.queuedTokens -= q.tokens; else keep.push(q); }
      this.queue = keep;
      job.reject(err);
    } else {
      job.resolve({ results: job.results, queueMs: job.startedAt - job.admittedAt, computeMs: job.computeMs,
        tokens: job.tokens });
    }
    this.maybeIdle();
  }

  private maybeIdle(): void {
    if (this.jobs === 0 && !this.running) for (const w of this.idleWaiters.splice(0)) w();
  }

  private pump(): void {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    setImmediate(() => { void this.loop(); });
  }

  /** The next batch: the head's key, then same-key items in order while the budget lasts (at least one). */
  private take(): QueuedItem[] {
    const key = this.queue[0].key, batch: QueuedItem[] = [], rest: QueuedItem[] = [];
    const maxItems = this.opts.maxBatchRequests ?? Infinity;
    let tokens = 0;
    for (const q of this.queue) {
      if (q.key === key && (batch.length === 0 || (tokens + q.tokens <= this.opts.maxBatchTokens && batch.length < maxItems))) {
        batch.push(q);
        tokens += q.tokens;
      } else {
        rest.push(q);
      }
    }
    this.queue = rest;
    this.queuedTokens -= tokens;
    return batch;
  }

  /**
   * The refill wait: resolves once the queue holds the inputs expected after the last batch (capped by the
   * budgets), or `maxBatchWaitMs` after the last batch was answered.
   */
  private async refill(): Promise<void> {
    const waitMs = this.opts.maxBatchWaitMs ?? 0;
    const want = Math.min(this.expected, this.opts.maxBatchRequests ?? Infinity);
    const deadline = this.lastEnd + waitMs;
    while (this.queue.length > 0 && this.queue.length < want && this.queuedTokens < this.opts.maxBatchTokens) {
      const left = deadline - performance.now();
      if (left <= 0) return;
      await new Promise<void>((r) => {
        const t = setTimeout(() => { this.arrived = null; r(); }, Math.ceil(left));
        this.arrived = () => { clearTimeout(t); this.arrived = null; r(); };
      });
    }
  }

  private async loop(): Promise<void> {
    while (this.queue.length > 0) {
      await this.refill();
      // Requests dropped during the wait (client gone, timeout) may have emptied the queue.
      if (this.queue.length === 0) break;
      const batch = this.take();
      const t0 = performance.now();
      for (const q of batch) if (q.job.startedAt < 0) q.job.startedAt = t0;
      let results: unknown[] | undefined, error: Error | undefined;
      try {
        results = await this.opts.run(batch[0].key, batch.map((q) => q.payload));
        if (results.length !== batch.length) throw new Error(`batch runner returned ${results.length} results for ${batch.length} inputs`);
      } catch (e) {
        error = e instanceof Error ? e : new Error(String(e));
      }
      const t1 = performance.now();
      if ((this.opts.maxBatchWaitMs ?? 0) > 0) {
        // One turn before answering: what was sent during the compute is queued now (in worker mode it already
        // was), and no answered client can have re-sent yet (see the file comment).
        await new Promise<void>((r) => setImmediate(r));
        this.expected = this.queue.length + batch.length;
      }
      const ms = t1 - t0, tokens = batch.reduce((a, q) => a + q.tokens, 0);
      const rate = tokens / Math.max(ms, 1e-3) * 1000;
      this.tokensPerSecond = this.tokensPerSecond === 0 ? rate : 0.8 * this.tokensPerSecond + 0.2 * rate;
      this.opts.onBatch?.({ key: batch[0].key, items: batch.length, tokens, computeMs: ms });
      const seen = new Set<Job>();
      batch.forEach((q, i) => {
        const j = q.job;
        if (j.done) return;
        if (!seen.has(j)) { seen.add(j); j.computeMs += ms; }
        if (error) { this.finish(j, error); return; }
        j.results[q.index] = results![i];
        if (--j.remaining === 0) this.finish(j);
      });
      // Let the event loop read new requests, write responses and notice closed connections.
      await new Promise<void>((r) => setImmediate(r));
      this.lastEnd = performance.now();
    }
    this.running = false;
    this.maybeIdle();
  }
}
