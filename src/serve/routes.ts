/**
 * The HTTP routes, in the request and response shapes clients already speak:
 * - `POST /embed` (text-embeddings-inference): `number[][]`, one vector per input (a single string too);
 * - `POST /v1/embeddings` (OpenAI): `{object: 'list', data: [{object: 'embedding', index, embedding}], model,
 *   usage: {prompt_tokens, total_tokens}}`, `embedding` a float array or, with `encoding_format: 'base64'`, the
 *   little-endian float32 bytes in base64; vectors are mean-pooled and L2-normalized;
 * - `POST /predict` (TEI): per input all labels `[{score, label}]`, best first (softmax, sigmoid for multi-label,
 *   the raw value for regression; `raw_scores: true` gives the logits); a single input gives one list, a batch a
 *   list of lists;
 * - `POST /fill-mask` (Hugging Face Inference API): `[{score, token, token_str, sequence}]` per input;
 * - `GET /health`, `GET /info` (TEI's fields plus dtype, sparsity and limits), `GET /metrics` (Prometheus text).
 * Every input is tokenized and length-checked here, on the server's thread (413 with its token count, or truncated
 * with `truncate: true`), then queued in the batcher; the response is written when all of the request's inputs have
 * been computed (in the model worker by default: src/serve/worker_host.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Batcher, Item, JobResult } from './batcher.js';
import { ServeError } from './errors.js';
import { tokenizeInput } from './inputs.js';
import type { ServerMetrics } from './metrics.js';
import type { ModelHost } from './model_host.js';
import { embedBody, fillMaskBody, openAiEmbeddingsBody, predictBody, type EmbedRequest, type FillMaskRequest,
  type OpenAiEmbeddingsRequest, type PredictRequest } from './schemas.js';

/** What a request did, for its log line. */
export interface RequestNote {
  inputs: number;
  tokens: number;
  queueMs: number;
  computeMs: number;
}

/** What the routes need from the server. */
export interface RouteContext {
  host: ModelHost;
  batcher: Batcher;
  metrics: ServerMetrics;
  /** Most inputs in one request. */
  maxClientBatchSize: number;
  maxConcurrentRequests: number;
  maxBatchRequests: number | null;
  /** Name reported as `model` / `model_id`. */
  modelId: string;
  /** Whether the server is ready (loaded, warmed, not draining). */
  ready: () => boolean;
  /** Attaches a request's batch figures to its log line. */
  note: (req: FastifyRequest, n: RequestNote) => void;
  version: string;
}

/** The list of texts of a `string | string[]` field; 400 when empty, 422 when over the client batch size. */
function textList(v: string | string[], field: string, maxInputs: number): { texts: string[]; fields: string[]; single: boolean } {
  const single = typeof v === 'string';
  const texts = single ? [v] : v;
  if (texts.length === 0) throw new ServeError(400, 'Empty', `\`${field}\` cannot be empty`, field, 'empty_input');
  if (texts.length > maxInputs) {
    throw new ServeError(422, 'Validation', `\`${field}\` holds ${texts.length} inputs; the maximum per request is ` +
      `${maxInputs} (--max-client-batch-size)`, field, 'too_many_inputs');
  }
  const fields = texts.map((_, i) => (single ? field : `${field}[${i}]`));
  texts.forEach((t, i) => {
    if (t.length === 0) throw new ServeError(400, 'Empty', `\`${fields[i]}\` is an empty string`, fields[i], 'empty_input');
  });
  return { texts, fields, single };
}

/** Aborts when the client goes away before the response is written. */
function clientGone(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.once('close', () => { if (!reply.raw.writableFinished) ac.abort(); });
  return ac.signal;
}

export function registerRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { host, batcher } = ctx;
  const model = host.summary;
  /** Tokenizes and length-checks one input on this thread ({@link tokenizeInput}). */
  const tokenize = (text: string, pair: string | undefined, truncate: boolean, field: string) =>
    tokenizeInput(host.tokenizer, model.maxInputLength, text, pair, truncate, field);

  async function submit<R>(req: FastifyRequest, reply: FastifyReply, key: string, items: Array<Item<unknown>>): Promise<JobResult<R>> {
    const r = await batcher.submit<unknown, R>(key, items, clientGone(reply));
    ctx.note(req, { inputs: items.length, tokens: r.tokens, queueMs: r.queueMs, computeMs: r.computeMs });
    ctx.metrics.queueSeconds.observe(r.queueMs / 1000);
    return r;
  }

  async function embed(req: FastifyRequest, reply: FastifyReply, inputs: string | string[], field: string,
    truncate: boolean, pooling: 'mean' | 'cls', normalize: boolean): Promise<{ vectors: Float32Array[]; tokens: number }> {
    const { texts, fields } = textList(inputs, field, ctx.maxClientBatchSize);
    const toks = await Promise.all(texts.map((t, i) => tokenize(t, undefined, truncate, fields[i])));
    const r = await submit<Float32Array>(req, reply, `embed|${pooling}|${normalize}`,
      texts.map((t, i) => ({ tokens: toks[i].ids.length, payload: t })));
    return { vectors: r.results, tokens: r.tokens };
  }

  app.post('/embed', { schema: { body: embedBody } }, async (req, reply) => {
    const b = req.body as EmbedRequest;
    const { vectors } = await embed(req, reply, b.inputs, 'inputs', b.truncate ?? false, b.pooling ?? 'mean', b.normalize ?? true);
    return vectors.map((v) => Array.from(v));
  });

  app.post('/v1/embeddings', { schema: { body: openAiEmbeddingsBody } }, async (req, reply) => {
    const b = req.body as OpenAiEmbeddingsRequest;
    if (b.dimensions !== undefined && b.dimensions !== model.hiddenSize) {
      throw new ServeError(422, 'Validation', `\`dimensions\` must be ${model.hiddenSize} for this model (got ${b.dimensions}); ` +
        'shortened embeddings are not supported', 'dimensions', 'invalid_value');
    }
    const { vectors, tokens } = await embed(req, reply, b.input, 'input', false, 'mean', true);
    const base64 = b.encoding_format === 'base64';
    return {
      object: 'list',
      data: vectors.map((v, index) => ({ object: 'embedding', index,
        embedding: base64 ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : Array.from(v) })),
      model: b.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    };
  });

  app.post('/predict', { schema: { body: predictBody } }, async (req, reply) => {
    const cls = model.classifier;
    if (!cls) {
      throw new ServeError(400, 'Validation', `/predict needs a sequence-classification model; ${ctx.modelId} has a ` +
        `${model.head} head (served: /embed, /v1/embeddings, /fill-mask)`, null, 'unsupported_route');
    }
    const b = req.body as PredictRequest;
    // TEI's reading: a string, or an array of exactly two strings, is one input; any other array is a batch.
    const pairLike = (x: unknown): x is [string, string] => Array.isArray(x) && x.length === 2 && x.every((s) => typeof s === 'string');
    const single = typeof b.inputs === 'string' || pairLike(b.inputs);
    const list: Array<string | [string, string]> = single ? [b.inputs as string | [string, string]] : b.inputs as Array<string | [string, string]>;
    if (list.length === 0) throw new ServeError(400, 'Empty', '`inputs` cannot be empty', 'inputs', 'empty_input');
    if (list.length > ctx.maxClientBatchSize) {
      throw new ServeError(422, 'Validation', `\`inputs\` holds ${list.length} inputs; the maximum per request is ` +
        `${ctx.maxClientBatchSize} (--max-client-batch-size)`, 'inputs', 'too_many_inputs');
    }
    const toks = await Promise.all(list.map((x, i) => {
      const field = single ? 'inputs' : `inputs[${i}]`;
      const [a, p] = typeof x === 'string' ? [x, undefined] : x;
      if (a.length === 0 || p === '') throw new ServeError(400, 'Empty', `\`${field}\` holds an empty string`, field, 'empty_input');
      return tokenize(a, p, b.truncate ?? false, field);
    }));
    const r = await submit<Float32Array>(req, reply, 'predict', toks.map((t) => ({ tokens: t.ids.length,
      payload: { ids: t.ids, types: t.types } })));
    const out = r.results.map((logits) => {
      const s = Float64Array.from(logits);
      if (!b.raw_scores && cls.score === 'softmax') {
        const max = Math.max(...s);
        let z = 0;
        for (let j = 0; j < s.length; j++) { s[j] = Math.exp(s[j] - max); z += s[j]; }
        for (let j = 0; j < s.length; j++) s[j] /= z;
      } else if (!b.raw_scores && cls.score === 'sigmoid') {
        for (let j = 0; j < s.length; j++) s[j] = 1 / (1 + Math.exp(-s[j]));
      }
      return cls.labels.map((label, j) => ({ score: s[j], label })).sort((x, y) => y.score - x.score);
    });
    return single ? out[0] : out;
  });

  app.post('/fill-mask', { schema: { body: fillMaskBody } }, async (req, reply) => {
    if (!model.canFillMask) {
      throw new ServeError(400, 'Validation', `/fill-mask needs a masked-LM model; ${ctx.modelId} has a ` +
        `${model.head} head (served: /embed, /v1/embeddings, /predict)`, null, 'unsupported_route');
    }
    const b = req.body as FillMaskRequest;
    const { texts, fields, single } = textList(b.inputs, 'inputs', ctx.maxClientBatchSize);
    const toks = await Promise.all(texts.map((t, i) => tokenize(t, undefined, b.truncate ?? false, fields[i])));
    toks.forEach((t, i) => {
      if (!t.ids.includes(host.tokenizer.mask_token_id)) {
        throw new ServeError(422, 'Validation', `\`${fields[i]}\` has no [MASK] token` +
          (t.untruncated > t.ids.length ? ' after truncation' : ''), fields[i], 'no_mask_token');
      }
    });
    const r = await submit<unknown>(req, reply, `fill|${b.parameters?.top_k ?? 5}`,
      texts.map((t, i) => ({ tokens: toks[i].ids.length, payload: t })));
    return single ? r.results[0] : r.results;
  });

  app.get('/health', async (_req, reply) => {
    if (!ctx.ready()) {
      reply.code(503);
      return { error: 'not ready (loading or shutting down)', error_type: 'Unhealthy' };
    }
    return { status: 'ok' };
  });

  app.get('/info', async () => {
    const cls = model.classifier;
    return {
      model_id: ctx.modelId,
      model_sha: null,
      model_dtype: model.dtype,
      model_type: cls ? { classifier: { id2label: cls.id2label, label2id: cls.label2id } } : { embedding: { pooling: 'mean' } },
      architecture: model.modelType,
      head: model.head,
      hidden_size: model.hiddenSize,
      num_hidden_layers: model.numHiddenLayers,
      sparsity: model.sparsity,
      max_concurrent_requests: ctx.maxConcurrentRequests,
      max_input_length: model.maxInputLength,
      max_batch_tokens: model.maxBatchTokens,
      max_batch_requests: ctx.maxBatchRequests,
      max_client_batch_size: ctx.maxClientBatchSize,
      version: ctx.version,
    };
  });

  app.get('/metrics', async (_req, reply) => {
    reply.header('Content-Type', ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });
}
