/**
 * The server's lifecycle: load the model, warm it up, then listen (so the port answers only when ready). By default
 * the model loads and computes in a worker thread (src/serve/worker_host.ts), and this thread serves HTTP,
 * validates, tokenizes, batches and keeps the metrics; `worker: false` keeps the model on this thread
 * (src/serve/model_host.ts). One JSON
 * log line per request (id, route, status, inputs, tokens, queue ms, compute ms, total ms); errors mapped to TEI's
 * or OpenAI's shape with no stack trace; and a drain that stops accepting connections, answers 503 to new requests
 * on open ones, lets every admitted request finish within a grace period, then closes.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import { Batcher } from './batcher.js';
import { InProcessHost, type ModelHost } from './model_host.js';
import { WorkerHost } from './worker_host.js';
import { isOpenAiRoute, openAiErrorBody, schemaError, ServeError, teiErrorBody, type SchemaIssue } from './errors.js';
import { ServerMetrics } from './metrics.js';
import { registerRoutes, type RequestNote } from './routes.js';

/** Options of {@link startServer} (the `serve` command's flags). */
export interface ServeOptions {
  /** Hugging Face model folder. */
  model: string;
  host?: string;
  /** 0 picks a free port. Default 8080. */
  port?: number;
  /**
   * Inference precision of the encoder projections: 'fp32' (pre-packed; sparse kernels for pruned weights) or 'q8'
   * (INT8). Default: the folder's own (fp32, or int8 for a `quantize`d folder).
   */
  dtype?: string;
  /**
   * Token budget of one batch (default 2048: about 3 s of MosaicBERT-base compute on 2 cores; a batch's requests
   * all wait for it, and past ~2k tokens throughput grows little — bench/RESULTS.md 'onnx': 525 tok/s at 1 x 128,
   * 758 at 3,163 tokens. TEI's GPU default, 16384, would be ~20 s of CPU per batch).
   */
  maxBatchTokens?: number;
  /** Most inputs in one batch (default: no limit but the tokens); 1 turns dynamic batching off. */
  maxBatchRequests?: number;
  /**
   * Most ms a batch waits after the previous one for the inputs its clients re-send (default 20; 0 forms the
   * next batch at once; see src/serve/batcher.ts). A base batch of 32 x 16 tokens computes for ~0.4-0.7 s here.
   */
  maxBatchWaitMs?: number;
  /** Requests admitted at once, queued or running (default 512); more get 429. */
  maxConcurrentRequests?: number;
  /** Longest input in tokens (default: config `alibi_starting_size`, 512 for MosaicBERT). */
  maxInputLength?: number;
  /** Most inputs per request (default 32, TEI's). */
  maxClientBatchSize?: number;
  /** Per-request deadline, ms (default 30000). */
  requestTimeoutMs?: number;
  /** Largest request body, bytes (default 2,000,000, TEI's payload limit). */
  payloadLimit?: number;
  /** Name reported as `model` / `model_id` (default: the folder path). */
  modelId?: string;
  /** Receives one object per log line (default: JSON on stdout); `false` for no logs. */
  log?: ((line: Record<string, unknown>) => void) | false;
  /**
   * Run the model in a worker thread (default true), keeping the event loop free while a batch computes; false
   * runs it on the server's thread (`serve --no-worker`: debugging, and the "before" row of `bench serve`).
   */
  worker?: boolean;
  /**
   * Called when the model worker cannot be kept running (src/serve/worker_host.ts); the server then answers 503.
   * The `serve` command exits 1.
   */
  onFatal?: (err: Error) => void;
}

/** A listening server. */
export interface RunningServer {
  app: FastifyInstance;
  /** The model: in its worker thread (default) or in process. */
  host: ModelHost;
  batcher: Batcher;
  metrics: ServerMetrics;
  /** `http://host:port`. */
  url: string;
  port: number;
  /**
   * Stops accepting connections, answers 503 to new requests, waits for admitted requests up to `graceMs`, then
   * closes every connection and terminates the model worker. Resolves `true` when everything admitted finished in
   * time.
   */
  drain(graceMs: number): Promise<boolean>;
}

export const SERVE_VERSION = '0.1.0';

/** Validates the dtype flag (undefined: the folder's own, fp32 or int8). @throws Error for anything but fp32 / q8. */
export function checkDtype(dtype: string | undefined): 'fp32' | 'q8' | undefined {
  if (dtype === undefined || dtype === 'fp32' || dtype === 'q8') return dtype;
  throw new Error(`--dtype must be fp32 or q8, got '${dtype}'`);
}

function positive(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
  return v;
}

/** Maps any error thrown while handling a request to a ServeError (unknown ones become a 500 "internal error"). */
export function toServeError(err: unknown, payloadLimit: number): ServeError {
  if (err instanceof ServeError) return err;
  const e = err as FastifyError & { validation?: SchemaIssue[] };
  if (e && Array.isArray(e.validation) && e.validation.length) return schemaError(e.validation);
  switch (e?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ServeError(413, 'Validation', `request body is larger than ${payloadLimit} bytes (--payload-limit)`, null, 'body_too_large');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ServeError(400, 'Empty', 'request body is empty: expected a JSON object', null, 'empty_body');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ServeError(415, 'Validation', 'unsupported Content-Type: send application/json', null, 'unsupported_media_type');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ServeError(400, 'Validation', `malformed JSON body: ${e.message}`, null, 'invalid_json');
  }
  if (e instanceof SyntaxError || (e?.statusCode === 400 && /JSON/i.test(e.message))) {
    return new ServeError(400, 'Validation', `malformed JSON body: ${e.message}`, null, 'invalid_json');
  }
  if (e && typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ServeError(e.statusCode, 'Validation', e.message, null, e.code ?? null);
  }
  return new ServeError(500, 'Backend', 'internal error', null, 'internal_error');
}

/**
 * Loads the model, warms it up and listens. Resolves once the port accepts requests.
 * @throws Error naming the flag or file (bad option, q8, unreadable model folder, port in use).
 */
export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const dtype = checkDtype(o.dtype);
  const maxBatchTokens = positive('--max-batch-tokens', o.maxBatchTokens ?? 2048);
  const maxBatchRequests = o.maxBatchRequests === undefined ? undefined : positive('--max-batch-requests', o.maxBatchRequests);
  const maxConcurrentRequests = positive('--max-concurrent-requests', o.maxConcurrentRequests ?? 512);
  const maxBatchWaitMs = o.maxBatchWaitMs ?? 20;
  if (!Number.isInteger(maxBatchWaitMs) || maxBatchWaitMs < 0) {
    throw new Error(`--max-batch-wait-ms must be an integer >= 0, got ${maxBatchWaitMs}`);
  }
  const maxClientBatchSize = positive('--max-client-batch-size', o.maxClientBatchSize ?? 32);
  const requestTimeoutMs = positive('--request-timeout', o.requestTimeoutMs ?? 30000);
  const payloadLimit = positive('--payload-limit', o.payloadLimit ?? 2_000_000);
  const write = o.log === false ? () => {} : o.log ?? ((l: Record<string, unknown>) => process.stdout.write(JSON.stringify(l) + '\n'));

  const t0 = performance.now();
  const engineOpts = {
    maxBatchTokens,
    maxInputLength: o.maxInputLength,
    dtype,
    warn: (m: string) => write({ time: new Date().toISOString(), event: 'warning', message: m }),
  };
  // Loaded and warmed up (in the worker, or here) before the port opens.
  const host: ModelHost = o.worker === false ? await InProcessHost.load(o.model, engineOpts)
    : await WorkerHost.load(o.model, { ...engineOpts, log: write, onFatal: o.onFatal });
  let metrics: ServerMetrics | undefined;
  const batcher = new Batcher({ maxBatchTokens, maxBatchRequests, maxBatchWaitMs, maxRequests: maxConcurrentRequests, timeoutMs: requestTimeoutMs,
    run: host.run, onBatch: (s) => metrics?.batch(s) });
  metrics = new ServerMetrics(() => ({ depth: batcher.depth, inFlight: batcher.inFlight, tokensPerSecond: batcher.throughput }),
    maxBatchTokens);
  const loadMs = performance.now() - t0;

  let nextId = 0;
  const app = Fastify({
    logger: false,
    bodyLimit: payloadLimit,
    // Requests arriving while draining get our own 503 (TEI / OpenAI shape) from the onRequest hook below.
    return503OnClosing: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : `req-${++nextId}`;
    },
    forceCloseConnections: 'idle',
    ajv: { customOptions: { allowUnionTypes: true, coerceTypes: false, removeAdditional: false, allErrors: false, useDefaults: false } },
  });
  const notes = new WeakMap<FastifyRequest, RequestNote>();
  const errors = new WeakMap<FastifyRequest, string>();
  let draining = false;

  app.setErrorHandler((err, req, reply) => {
    const se = toServeError(err, payloadLimit);
    if (se.status >= 500 && !(err instanceof ServeError)) {
      errors.set(req, err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err));
    } else {
      errors.set(req, se.message);
    }
    if (se.retryAfterS !== undefined) reply.header('Retry-After', String(se.retryAfterS));
    reply.code(se.status).send(isOpenAiRoute(req.url) ? openAiErrorBody(se) : teiErrorBody(se));
  });
  app.setNotFoundHandler((req, reply) => {
    const se = new ServeError(404, 'Validation', `no route ${req.method} ${req.url.split('?')[0]}`, null, 'not_found');
    reply.code(404).send(isOpenAiRoute(req.url) ? openAiErrorBody(se) : teiErrorBody(se));
  });
  let activeRequests = 0;
  app.addHook('onRequest', async (_req, reply) => {
    activeRequests++;
    reply.raw.once('close', () => { activeRequests--; });
    if (draining) {
      reply.header('Connection', 'close');
      throw new ServeError(503, 'Unhealthy', 'server is shutting down; retry on another instance', null, 'shutting_down', 1);
    }
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const ms = reply.elapsedTime, n = notes.get(req);
    metrics!.request(route, reply.statusCode, ms / 1000);
    write({
      time: new Date().toISOString(), id: req.id, method: req.method, route, status: reply.statusCode,
      inputs: n?.inputs ?? 0, tokens: n?.tokens ?? 0, queue_ms: n ? round(n.queueMs) : null,
      compute_ms: n ? round(n.computeMs) : null, total_ms: round(ms),
      ...(errors.has(req) ? { error: errors.get(req) } : {}),
    });
  });
  // JSON only: a text/plain body is a 415, not a string to validate.
  app.removeContentTypeParser('text/plain');
  registerRoutes(app, {
    host, batcher, metrics, maxClientBatchSize, maxConcurrentRequests,
    maxBatchRequests: maxBatchRequests ?? null, modelId: o.modelId ?? o.model,
    ready: () => !draining && host.ready(), note: (req, n) => notes.set(req, n), version: SERVE_VERSION,
  });

  try {
    await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 8080 });
  } catch (e) {
    await host.close();
    throw e;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (o.port ?? 8080);
  const url = `http://${o.host ?? '127.0.0.1'}:${port}`;
  write({ time: new Date().toISOString(), event: 'ready', url, model: o.model, head: host.summary.head,
    worker: host.mode === 'worker', max_batch_tokens: maxBatchTokens, max_batch_requests: maxBatchRequests ?? null,
    max_batch_wait_ms: maxBatchWaitMs, max_input_length: host.summary.maxInputLength, load_ms: round(loadMs) });

  async function drain(graceMs: number): Promise<boolean> {
    draining = true;
    let timer: NodeJS.Timeout | undefined;
    const closed = app.close().then(() => true);
    // fastify closes the connections idle when close() starts; a keep-alive connection whose request finishes
    // later, or one opened without a request yet, would hold the close until the client drops it: once no
    // request is in progress, every connection is closed.
    const sweep = setInterval(() => {
      if (activeRequests === 0) app.server.closeAllConnections(); else app.server.closeIdleConnections();
    }, 50);
    void closed.finally(() => clearInterval(sweep));
    const late = new Promise<boolean>((r) => { timer = setTimeout(() => r(false), graceMs); });
    const ok = await Promise.race([closed, late]);
    clearTimeout(timer);
    if (!ok) { app.server.closeAllConnections(); await closed; }
    await host.close();
    return ok;
  }
  return { app, host, batcher, metrics, url, port, drain };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
