/**
 * The peer server of `bench serve`: the same fastify harness (the same `/embed` route, body schema, TEI response
 * shape, mean pooling and L2 normalization) on a transformers.js model (`@huggingface/transformers`, a dev
 * dependency, on onnxruntime-node) loaded from the model folder's `onnx/model.onnx` (our exporter's encoder graph;
 * `--dtype q8`: `onnx/model_quantized.onnx`, its dynamic INT8 version) and `tokenizer.json`. Each request is
 * tokenized and run on its own, as a transformers.js server does: there is no cross-request batching; concurrent
 * requests run concurrently in the ONNX Runtime session.
 *
 * The exported graph takes the ALiBi bias `[1, heads, S, S]` as an input (src/interop/onnx_export.ts), which the
 * transformers.js pipelines do not know about, so the harness calls the model object directly with that extra
 * feed (transformers.js passes every named input its session declares) and pools the `last_hidden_state` itself.
 *
 * Run as a script: `node dist/src/bench/serve_peer.js --model DIR --port N --threads T [--dtype fp32|q8]` (prints
 * one JSON line `{"event":"ready","url":...}` when listening; SIGTERM closes it).
 */
import { basename, dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import { alibiBias } from '../interop/onnx_export.js';
import { embedBody, type EmbedRequest } from '../serve/schemas.js';

/** Options of {@link startPeerServer}. */
export interface PeerOptions {
  /** Folder with config.json (model_type bert), tokenizer.json, tokenizer_config.json and onnx/model.onnx. */
  model: string;
  port: number;
  /** ONNX Runtime intra-op threads. */
  threads: number;
  /** 'fp32' (onnx/model.onnx) or 'q8' (onnx/model_quantized.onnx, transformers.js's file for that dtype). Default fp32. */
  dtype?: 'fp32' | 'q8';
  /** Longest input in tokens (default 512). */
  maxInputLength?: number;
}

interface TjsTensor { data: Float32Array | BigInt64Array; dims: number[] }

/** Starts the peer server; resolves with its URL once listening. */
export async function startPeerServer(o: PeerOptions): Promise<{ url: string; close: () => Promise<void> }> {
  const tjs = await import('@huggingface/transformers');
  tjs.env.allowRemoteModels = false;
  tjs.env.localModelPath = dirname(o.model) + '/';
  const id = basename(o.model);
  const tokenizer = await tjs.AutoTokenizer.from_pretrained(id);
  const model = await tjs.AutoModel.from_pretrained(id, {
    device: 'cpu', dtype: o.dtype ?? 'fp32',
    session_options: { intraOpNumThreads: o.threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' },
  } as never);
  const cfg = (model as unknown as { config: { num_attention_heads: number; hidden_size: number } }).config;
  const heads = cfg.num_attention_heads, H = cfg.hidden_size, maxLen = o.maxInputLength ?? 512;
  const biasBySeq = new Map<number, unknown>();
  const bias = (S: number) => {
    if (!biasBySeq.has(S)) biasBySeq.set(S, new tjs.Tensor('float32', alibiBias(heads, S), [1, heads, S, S]));
    return biasBySeq.get(S);
  };

  /** Mean-pooled, L2-normalized embeddings of the texts (one padded batch, as transformers.js runs it). */
  async function embed(texts: string[], truncate: boolean): Promise<number[][]> {
    const enc = tokenizer(texts, { padding: true, truncation: truncate, max_length: maxLen }) as unknown as
      { input_ids: TjsTensor; attention_mask: TjsTensor; token_type_ids: TjsTensor };
    const [B, S] = enc.input_ids.dims;
    const out = await (model as unknown as (x: unknown) => Promise<{ last_hidden_state: TjsTensor }>)(
      { ...enc, alibi_bias: bias(S) });
    const h = out.last_hidden_state.data as Float32Array, mask = enc.attention_mask.data as BigInt64Array;
    return Array.from({ length: B }, (_, b) => {
      const v = new Float64Array(H);
      let n = 0;
      for (let s = 0; s < S; s++) {
        if (mask[b * S + s] === 0n) continue;
        n++;
        for (let c = 0; c < H; c++) v[c] += h[(b * S + s) * H + c];
      }
      let norm = 0;
      for (let c = 0; c < H; c++) { v[c] /= n; norm += v[c] * v[c]; }
      norm = Math.max(Math.sqrt(norm), 1e-12);
      return Array.from(v, (x) => x / norm);
    });
  }

  await embed(['warm up the encoder before serving requests'], true);
  const app = Fastify({ logger: false, ajv: { customOptions: { allowUnionTypes: true, coerceTypes: false } } });
  let inFlight = 0;
  app.post('/embed', { schema: { body: embedBody } }, async (req) => {
    const b = req.body as EmbedRequest;
    inFlight++;
    try {
      return await embed(typeof b.inputs === 'string' ? [b.inputs] : b.inputs, b.truncate ?? false);
    } finally {
      inFlight--;
    }
  });
  // in_flight: model calls still running (a closed client does not stop its call), read by the bench between runs.
  app.get('/health', async () => ({ status: 'ok', in_flight: inFlight }));
  await app.listen({ host: '127.0.0.1', port: o.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string, dflt?: string) => {
    const i = process.argv.indexOf(`--${name}`);
    if (i < 0 && dflt === undefined) throw new Error(`serve_peer: --${name} is required`);
    return i < 0 ? dflt! : process.argv[i + 1];
  };
  const dtype = arg('dtype', 'fp32');
  if (dtype !== 'fp32' && dtype !== 'q8') throw new Error(`serve_peer: --dtype must be fp32 or q8, got '${dtype}'`);
  startPeerServer({ model: arg('model'), port: Number(arg('port', '0')), threads: Number(arg('threads', '2')), dtype })
    .then((s) => {
      process.stdout.write(JSON.stringify({ event: 'ready', url: s.url }) + '\n');
      const stop = () => { void s.close().then(() => process.exit(0)); };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    }, (e: Error) => { console.error(`serve_peer: ${e.message}`); process.exit(2); });
}
