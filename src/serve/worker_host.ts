/**
 * The default {@link ModelHost}: the model runs in one `node:worker_threads` Worker (src/serve/worker.ts), so the
 * server's event loop keeps reading requests, answering /health and /metrics and timing requests out while a batch
 * computes. The server's thread keeps the tokenizer (length checks, truncation, token counts) and sends each batch
 * (its key and payloads) to the worker as a message; the results come back with their Float32Array buffers
 * transferred, not copied. One batch is in the worker at a time (the batcher's rule).
 *
 * Failures: an error thrown by a batch comes back as that batch's error (a ServeError keeps its status; anything
 * else is a 500 "internal error" to the client and the worker's stack in the log line). If the worker thread dies
 * (an uncaught exception, `process.exit` in it, an out-of-memory abort of its heap), the batch it was computing
 * fails with 503 `worker_restarting` (with Retry-After: the load time), the event is logged, and a new worker
 * loads the model; meanwhile /health answers 503 and queued batches wait for it. The worker is restarted rather than
 * the process exited because the model folder loaded once already (a crash is most likely that batch's, not a
 * broken deployment) and the queue and open connections survive. If the new worker cannot load the model, or the
 * worker dies 3 times within 60 s, the host gives up: every batch fails with 503, /health stays 503 and `onFatal`
 * is called (the `serve` command then exits 1 with the reason). A crash of the native code itself (a segfault) ends
 * the whole process: threads share it.
 */
import { Worker } from 'node:worker_threads';
import { loadTokenizer } from '../pipelines/common.js';
import type { BertTokenizer } from '../tokenizer/bert_tokenizer.js';
import type { BatchRunner } from './batcher.js';
import type { EngineOptions } from './engine.js';
import { ServeError } from './errors.js';
import type { ModelHost, ModelSummary } from './model_host.js';
import { fromWire, type FromWorker, type ToWorker, type WorkerInit } from './worker_protocol.js';

/** Options of {@link WorkerHost.load}. */
export interface WorkerHostOptions extends EngineOptions {
  /** Receives the worker's lifecycle events (`worker_exit`, `worker_ready`) as log objects. */
  log?: (line: Record<string, unknown>) => void;
  /** Called once when the host gives up on the worker (see the file comment). */
  onFatal?: (err: Error) => void;
}

/** Crashes within {@link CRASH_WINDOW_MS} that make the host give up. */
const MAX_CRASHES = 3;
const CRASH_WINDOW_MS = 60_000;

interface Pending { resolve: (r: unknown[]) => void; reject: (e: Error) => void }

export class WorkerHost implements ModelHost {
  readonly mode = 'worker' as const;
  summary!: ModelSummary;
  private worker: Worker | null = null;
  private restarting: Promise<void> | null = null;
  private fatal: Error | null = null;
  private closing = false;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private crashes: number[] = [];
  private loadMs = 0;

  private constructor(private readonly dir: string, private readonly opts: WorkerHostOptions, readonly tokenizer: BertTokenizer) {}

  /**
   * Starts the worker and resolves once it has loaded and warmed up the model.
   * @throws the worker's load error (naming the folder, file or flag, as {@link Engine.load}).
   */
  static async load(dir: string, opts: WorkerHostOptions): Promise<WorkerHost> {
    const host = new WorkerHost(dir, opts, await loadTokenizer(dir));
    host.summary = await host.start();
    return host;
  }

  ready(): boolean { return this.worker !== null && this.restarting === null && this.fatal === null && !this.closing; }

  readonly run: BatchRunner = async (key, payloads) => {
    if (this.restarting) await this.restarting;
    const w = this.worker;
    if (this.fatal || this.closing || !w) throw this.unavailable();
    const id = ++this.nextId;
    return new Promise<unknown[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ type: 'run', id, key, payloads } satisfies ToWorker);
    });
  };

  /** Terminates the worker; a batch still in it fails with 503. */
  async close(): Promise<void> {
    this.closing = true;
    this.failPending(this.unavailable());
    await this.worker?.terminate();
    this.worker = null;
  }

  /** Test hook: the worker thread exits with `code` when the next batch arrives (a crash mid-service). */
  testExitOnNextBatch(code: number): void {
    this.worker?.postMessage({ type: 'test-exit-on-next-batch', code } satisfies ToWorker);
  }

  /**
   * Test hook: `started` resolves when the worker receives the next batch; with `hold`, the worker thread then
   * blocks (as a long forward would) until `release()`.
   */
  testNextBatch(hold: boolean): { started: Promise<void>; release: () => void } {
    const flag = hold ? new Int32Array(new SharedArrayBuffer(4)) : null;
    const started = new Promise<void>((r) => { this.batchStarted = r; });
    this.worker?.postMessage({ type: 'test-next-batch', hold: flag } satisfies ToWorker);
    return { started, release: () => { if (flag) { Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); } } };
  }

  private batchStarted: (() => void) | null = null;

  /** Starts a worker; resolves with the model summary when it is ready, rejects if it fails to load. */
  private start(): Promise<ModelSummary> {
    const init: WorkerInit = { dir: this.dir, opts: { maxBatchTokens: this.opts.maxBatchTokens,
      maxInputLength: this.opts.maxInputLength, dtype: this.opts.dtype } };
    const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
    this.worker = w;
    let ready = false, thrown: Error | undefined;
    return new Promise<ModelSummary>((resolve, reject) => {
      w.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'warn': (this.opts.warn ?? console.warn)(m.message); break;
          case 'ready': ready = true; this.loadMs = m.loadMs; resolve(m.summary); break;
          case 'load-error': reject(fromWire(m.error)); break;
          case 'test-batch-started': this.batchStarted?.(); this.batchStarted = null; break;
          case 'result': case 'error': {
            const p = this.pending.get(m.id);
            if (!p) break;
            this.pending.delete(m.id);
            if (m.type === 'result') p.resolve(m.results); else p.reject(fromWire(m.error));
            break;
          }
        }
      });
      // An uncaught exception in the worker: 'exit' follows.
      w.on('error', (e) => { thrown = e; });
      w.on('exit', (code) => {
        if (this.worker === w) this.worker = null;
        if (!ready) {
          reject(thrown ?? new Error(`the model worker exited with code ${code} while loading ${this.dir}`));
        } else if (!this.closing) {
          this.crashed(code, thrown);
        }
      });
    });
  }

  /** The worker died while serving: fail its batch, log, restart (or give up). */
  private crashed(code: number, thrown: Error | undefined): void {
    const now = performance.now();
    this.crashes = [...this.crashes.filter((t) => now - t < CRASH_WINDOW_MS), now];
    const giveUp = this.crashes.length >= MAX_CRASHES;
    this.failPending(new ServeError(503, 'Unhealthy', 'the model worker stopped while computing this batch; ' +
      (giveUp ? 'the server is not serving' : 'it is restarting: retry'), null, 'worker_restarting', this.retryAfterS()));
    this.opts.log?.({ time: new Date().toISOString(), event: 'worker_exit', code,
      error: thrown ? `${thrown.message}\n${thrown.stack ?? ''}` : null, restarting: !giveUp });
    if (giveUp) {
      this.giveUp(new Error(`the model worker died ${this.crashes.length} times within ${CRASH_WINDOW_MS / 1000} s ` +
        `(last exit code ${code}${thrown ? `: ${thrown.message}` : ''})`));
      return;
    }
    const t0 = performance.now();
    this.restarting = this.start().then(
      () => { this.opts.log?.({ time: new Date().toISOString(), event: 'worker_ready', load_ms: Math.round(performance.now() - t0) }); },
      (e: Error) => this.giveUp(new Error(`the model worker could not be restarted: ${e.message}`)))
      .finally(() => { this.restarting = null; });
  }

  private giveUp(err: Error): void {
    if (this.fatal) return;
    this.fatal = err;
    this.failPending(this.unavailable());
    this.opts.log?.({ time: new Date().toISOString(), event: 'fatal', error: err.message });
    this.opts.onFatal?.(err);
  }

  private unavailable(): ServeError {
    return new ServeError(503, 'Unhealthy', this.closing ? 'server is shutting down; retry on another instance'
      : 'the model is not available (its worker failed); retry on another instance', null,
    this.closing ? 'shutting_down' : 'worker_failed', this.retryAfterS());
  }

  private retryAfterS(): number { return Math.max(1, Math.ceil(this.loadMs / 1000)); }

  private failPending(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
