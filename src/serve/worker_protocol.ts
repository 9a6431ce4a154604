/**
 * The messages between the server's thread and the model worker (src/serve/worker_host.ts <-> worker.ts), and how
 * an error crosses between them. Structured clone carries the data; result buffers are transferred, not copied.
 */
import type { EngineOptions } from './engine.js';
import { ServeError } from './errors.js';
import type { ModelSummary } from './model_host.js';

/** `workerData` of the model worker. */
export interface WorkerInit {
  dir: string;
  opts: Omit<EngineOptions, 'warn'>;
}

/** An Error as plain data (a ServeError keeps its status and fields). */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  serve?: { status: number; type: ServeError['type']; param: string | null; code: string | null; retryAfterS?: number };
}

/** Server thread -> worker. */
export type ToWorker =
  | { type: 'run'; id: number; key: string; payloads: unknown[] }
  /** Test hook: the worker thread exits with `code` when the next batch arrives, before computing it. */
  | { type: 'test-exit-on-next-batch'; code: number }
  /**
   * Test hook: when the next batch arrives the worker says `test-batch-started`; with `hold`, it then blocks its
   * thread (as a long forward would) until `hold[0]` becomes non-zero, and computes the batch.
   */
  | { type: 'test-next-batch'; hold: Int32Array | null };

/** Worker -> server thread. */
export type FromWorker =
  | { type: 'warn'; message: string }
  | { type: 'ready'; summary: ModelSummary; loadMs: number }
  | { type: 'load-error'; error: WireError }
  | { type: 'result'; id: number; results: unknown[] }
  | { type: 'error'; id: number; error: WireError }
  | { type: 'test-batch-started' };

export function toWire(e: unknown): WireError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  const w: WireError = { name: e.name, message: e.message, stack: e.stack };
  if (e instanceof ServeError) w.serve = { status: e.status, type: e.type, param: e.param, code: e.code, retryAfterS: e.retryAfterS };
  return w;
}

/** The Error again on the server's thread: a ServeError as it was, anything else an Error with the worker's stack. */
export function fromWire(w: WireError): Error {
  if (w.serve) return new ServeError(w.serve.status, w.serve.type, w.message, w.serve.param, w.serve.code, w.serve.retryAfterS);
  const e = new Error(w.message);
  e.name = w.name;
  if (w.stack) e.stack = `${w.stack}\n    (in the model worker)`;
  return e;
}

/** The distinct ArrayBuffers under the typed arrays of `results` (top level), to transfer with them. */
export function transferables(results: unknown[]): ArrayBuffer[] {
  const set = new Set<ArrayBuffer>();
  for (const r of results) if (ArrayBuffer.isView(r) && r.buffer instanceof ArrayBuffer) set.add(r.buffer);
  return [...set];
}
