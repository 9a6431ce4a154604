/**
 * Where the model runs, as the HTTP side sees it: a {@link ModelHost} gives the model's summary (plain data), the
 * tokenizer for length checks and token counts, and the batch runner of the batcher. Two hosts:
 * - {@link WorkerHost} (src/serve/worker_host.ts, the default): the model, its prepared weights and the pipelines
 *   live in one `node:worker_threads` Worker (src/serve/worker.ts), the only thread that calls the native kernels
 *   (and so their thread pool); the event loop of the server stays free while a batch computes.
 * - {@link InProcessHost} (`worker: false`, `serve --no-worker`): the {@link Engine} on the server's own thread, as
 *   before the worker existed; each forward blocks the event loop for its duration (debugging, and the "before" row of
 *   `bench serve`).
 */
import type { HeadKind } from '../model/params.js';
import type { BertTokenizer } from '../tokenizer/bert_tokenizer.js';
import type { BatchRunner } from './batcher.js';
import { Engine, type ClassifierInfo, type EngineOptions } from './engine.js';

/** What the routes need to know about the loaded model. */
export interface ModelSummary {
  head: HeadKind;
  modelType: 'mosaicbert' | 'bert';
  hiddenSize: number;
  numHiddenLayers: number;
  /** Longest input in tokens, [CLS]/[SEP] included. */
  maxInputLength: number;
  maxBatchTokens: number;
  classifier: ClassifierInfo | null;
  /** Whether `/fill-mask` is served (a masked-LM head). */
  canFillMask: boolean;
  /** Fraction of exact zeros in the encoder layers' weight matrices. */
  sparsity: number;
  /** Precision of the encoder projections. */
  dtype: 'float32' | 'int8';
}

/** A loaded, warmed-up model as the server uses it. */
export interface ModelHost {
  readonly summary: ModelSummary;
  /** The model folder's tokenizer, on the server's thread. */
  readonly tokenizer: BertTokenizer;
  /** `'worker'` or `'in-process'`. */
  readonly mode: 'worker' | 'in-process';
  /** False while the model cannot take a batch (the worker restarting after a crash, or given up). */
  ready(): boolean;
  /** Runs one batch (keys and payloads: src/serve/engine.ts). */
  readonly run: BatchRunner;
  /** Releases the model (terminates the worker). */
  close(): Promise<void>;
}

/** The model on the server's own thread: every batch blocks the event loop while it computes. */
export class InProcessHost implements ModelHost {
  readonly mode = 'in-process' as const;
  readonly summary: ModelSummary;
  readonly tokenizer: BertTokenizer;

  private constructor(readonly engine: Engine) {
    this.summary = engine.summary();
    this.tokenizer = engine.tokenizer;
  }

  /** Loads and warms up the model. @throws Error naming the folder, file or flag (see {@link Engine.load}). */
  static async load(dir: string, opts: EngineOptions): Promise<InProcessHost> {
    const engine = await Engine.load(dir, opts);
    await engine.warmUp();
    return new InProcessHost(engine);
  }

  ready(): boolean { return true; }

  readonly run: BatchRunner = (key, payloads) => this.engine.run(key, payloads);

  async close(): Promise<void> {}
}
