/**
 * The server on 127.0.0.1 (port 0) with tiny random MosaicBERTs saved by savePretrained (hidden 32, 2 layers;
 * an MLM model and a 3-label classifier): response shapes of every endpoint against TEI's and OpenAI's formats,
 * results equal to the pipelines' (tolerance 1e-5 absolute: the pipelines' own batch-vs-single tolerance, since
 * an input's floats may differ in the last bits with the batch it is computed in), the official `openai` client,
 * concurrent requests of mixed lengths, every bad input's status and message with the server still serving,
 * 429 with Retry-After, timeouts and dropped requests.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { savePretrained } from '../../src/interop/pretrained.js';
import { MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { MosaicBertForSequenceClassification } from '../../src/model/classification.js';
import { configFromDict } from '../../src/model/config.js';
import { pipeline, type ClassificationResult, type FillMaskResult } from '../../src/pipelines/index.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import type { BatchRunner } from '../../src/serve/batcher.js';

const tiny = { vocab_size: 30528, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64,
  initializer_range: 0.2 };
const H = 32, TOL = 1e-5;
const tmp = (tag: string) => mkdtempSync(join(tmpdir(), `mb-serve-${tag}-`));
const mlmDir = tmp('mlm');
savePretrained(new MosaicBertForMaskedLM(configFromDict(tiny), { initSeed: 3 }), mlmDir);
const clsDir = tmp('cls');
savePretrained(new MosaicBertForSequenceClassification(configFromDict({ ...tiny, num_labels: 3,
  id2label: { 0: 'negative', 1: 'neutral', 2: 'positive' }, label2id: { negative: 0, neutral: 1, positive: 2 } }),
{ initSeed: 4 }), clsDir);
const quiet = { load: { warn: () => {} } };

let mlm: RunningServer, cls: RunningServer;
before(async () => {
  mlm = await startServer({ model: mlmDir, port: 0, log: false, payloadLimit: 50_000, maxClientBatchSize: 8,
    modelId: 'tiny-mlm' });
  cls = await startServer({ model: clsDir, port: 0, log: false, modelId: 'tiny-cls' });
});
after(async () => {
  await mlm.drain(5000);
  await cls.drain(5000);
});

interface Reply { status: number; body: any; headers: Headers }
async function call(s: RunningServer, path: string, body?: unknown, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(s.url + path, body === undefined && !init.body ? init : {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body), ...init,
  });
  const text = await res.text();
  let parsed: unknown = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON (metrics) */ }
  return { status: res.status, body: parsed, headers: res.headers };
}

function near(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= TOL, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

const texts = ['short', 'a somewhat longer input sentence about the weather in spring', 'mid length one here'];

test('POST /embed: TEI shape number[][] equal to the feature-extraction pipeline (mean, cls, normalize)', async () => {
  const fe = await pipeline('feature-extraction', mlmDir, quiet);
  const r = await call(mlm, '/embed', { inputs: texts });
  assert.equal(r.status, 200);
  assert.ok(Array.isArray(r.body) && r.body.length === 3 && r.body.every((v: unknown) => Array.isArray(v) && v.length === H));
  const want = await fe(texts, { pooling: 'mean', normalize: true });   // TEI's default: normalize true
  r.body.forEach((v: number[], i: number) => near(v, want.data.subarray(i * H, (i + 1) * H), `mean input ${i}`));
  const one = await call(mlm, '/embed', { inputs: texts[1] });
  assert.equal(one.body.length, 1, 'a single string still gives a list of one vector');
  near(one.body[0], want.data.subarray(H, 2 * H), 'single');
  const raw = await call(mlm, '/embed', { inputs: texts, pooling: 'cls', normalize: false });
  const wantCls = await fe(texts, { pooling: 'cls' });
  raw.body.forEach((v: number[], i: number) => near(v, wantCls.data.subarray(i * H, (i + 1) * H), `cls input ${i}`));
});

test('POST /v1/embeddings: OpenAI shape, usage, base64 = float; the openai client gets the pipeline\'s vectors', async () => {
  const fe = await pipeline('feature-extraction', mlmDir, quiet);
  const want = await fe(texts, { pooling: 'mean', normalize: true });
  const r = await call(mlm, '/v1/embeddings', { input: texts, model: 'any-name' });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body).sort(), ['data', 'model', 'object', 'usage']);
  assert.equal(r.body.object, 'list');
  assert.equal(r.body.model, 'any-name');
  const ntok = (await Promise.all(texts.map((t) => fe.tokenizer.encode(t)))).reduce((a, e) => a + e.input_ids.length, 0);
  assert.deepEqual(r.body.usage, { prompt_tokens: ntok, total_tokens: ntok });
  r.body.data.forEach((d: { object: string; index: number; embedding: number[] }, i: number) => {
    assert.equal(d.object, 'embedding');
    assert.equal(d.index, i);
    near(d.embedding, want.data.subarray(i * H, (i + 1) * H), `openai float ${i}`);
  });
  const b64 = await call(mlm, '/v1/embeddings', { input: texts, model: 'm', encoding_format: 'base64' });
  b64.body.data.forEach((d: { embedding: string }, i: number) => {
    const buf = Buffer.from(d.embedding, 'base64');
    const f = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    assert.deepEqual(Array.from(f), r.body.data[i].embedding, 'base64 decodes to the float response');
  });
  const client = new OpenAI({ baseURL: `${mlm.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const got = await client.embeddings.create({ model: 'tiny', input: texts });   // asks for base64 and decodes it
  assert.equal(got.data.length, 3);
  got.data.forEach((d, i) => near(d.embedding, want.data.subarray(i * H, (i + 1) * H), `openai client ${i}`));
  assert.equal(got.usage.prompt_tokens, ntok);
  await assert.rejects(client.embeddings.create({ model: 'tiny', input: [] }),
    (e: unknown) => e instanceof OpenAI.APIError && e.status === 400 && /`input` cannot be empty/.test(e.message));
});

test('POST /predict: TEI shape (all labels, best first), equal to the text-classification pipeline; pairs; raw_scores', async () => {
  const clf = await pipeline('text-classification', clsDir, quiet);
  const r = await call(cls, '/predict', { inputs: 'I love this.' });
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 3);
  for (const x of r.body) assert.deepEqual(Object.keys(x).sort(), ['label', 'score']);
  for (let i = 1; i < 3; i++) assert.ok(r.body[i - 1].score >= r.body[i].score);
  const want = await clf('I love this.', { top_k: null }) as ClassificationResult[];
  assert.deepEqual(r.body.map((x: ClassificationResult) => x.label), want.map((x) => x.label));
  near(r.body.map((x: ClassificationResult) => x.score), want.map((x) => x.score), 'scores');
  // A two-string array is one pair (TEI's reading); a longer list is a batch of texts and pairs.
  const pair = await call(cls, '/predict', { inputs: ['a premise', 'a hypothesis'] });
  const wantPair = await clf({ text: 'a premise', text_pair: 'a hypothesis' }, { top_k: null }) as ClassificationResult[];
  near(pair.body.map((x: ClassificationResult) => x.score), wantPair.map((x) => x.score), 'pair');
  const batch = await call(cls, '/predict', { inputs: ['one', ['a premise', 'a hypothesis'], 'three'] });
  assert.equal(batch.body.length, 3);
  assert.ok(batch.body.every((l: unknown[]) => Array.isArray(l) && l.length === 3));
  near(batch.body[1].map((x: ClassificationResult) => x.score), wantPair.map((x) => x.score), 'pair in batch');
  const raw = await call(cls, '/predict', { inputs: 'I love this.', raw_scores: true });
  const byLabel = new Map(raw.body.map((x: ClassificationResult) => [x.label, x.score]));
  const z = [...byLabel.values()].reduce((a: number, l) => a + Math.exp(l as number), 0);
  for (const w of want) assert.ok(Math.abs(Math.exp(byLabel.get(w.label) as number) / z - w.score) <= TOL, `softmax(raw) ${w.label}`);
});

test('POST /fill-mask: [{score, token, token_str, sequence}] equal to the fill-mask pipeline', async () => {
  const fm = await pipeline('fill-mask', mlmDir, quiet);
  const r = await call(mlm, '/fill-mask', { inputs: 'The capital of France is [MASK].', parameters: { top_k: 3 } });
  assert.equal(r.status, 200);
  const want = await fm('The capital of France is [MASK].', { top_k: 3 }) as FillMaskResult[];
  assert.deepEqual(r.body.map((x: FillMaskResult) => [x.token, x.token_str, x.sequence]), want.map((x) => [x.token, x.token_str, x.sequence]));
  near(r.body.map((x: FillMaskResult) => x.score), want.map((x) => x.score), 'fill-mask scores');
  const batch = await call(mlm, '/fill-mask', { inputs: ['Hello [MASK]!', '[MASK] is the [MASK] of it.'] });
  assert.equal(batch.body.length, 2);
  assert.equal(batch.body[0].length, 5, 'default top_k 5');
  assert.equal(batch.body[1].length, 2, 'two masks: one list per mask');
});

test('GET /health, /info (TEI fields, dtype, sparsity, limits), /metrics (Prometheus text)', async () => {
  const h = await call(mlm, '/health', undefined);
  assert.equal(h.status, 200);
  const info = await call(mlm, '/info', undefined);
  assert.equal(info.body.model_id, 'tiny-mlm');
  assert.equal(info.body.model_dtype, 'float32');
  assert.deepEqual(info.body.model_type, { embedding: { pooling: 'mean' } });
  assert.equal(info.body.sparsity, 0);
  assert.equal(info.body.max_input_length, 512);
  assert.equal(info.body.max_client_batch_size, 8);
  for (const k of ['max_concurrent_requests', 'max_batch_tokens', 'version']) assert.ok(k in info.body, k);
  const ci = await call(cls, '/info', undefined);
  assert.deepEqual(ci.body.model_type.classifier.id2label, { 0: 'negative', 1: 'neutral', 2: 'positive' });
  // One request of 5 inputs is one batch of 5 (all queued before the batch loop turns).
  await call(mlm, '/embed', { inputs: ['a', 'b', 'c', 'd', 'e'] });
  const m = await call(mlm, '/metrics', undefined);
  assert.equal(m.status, 200);
  assert.match(m.headers.get('content-type') ?? '', /text\/plain/);
  for (const name of ['mosaicbert_queue_depth', 'mosaicbert_batch_size_bucket', 'mosaicbert_batch_tokens_bucket',
    'mosaicbert_request_duration_seconds_bucket', 'mosaicbert_tokens_per_second', 'mosaicbert_tokens_total',
    'mosaicbert_process_resident_memory_bytes']) assert.ok(m.body.includes(name), name);
  const le8 = /mosaicbert_batch_size_bucket\{le="8"\} (\d+)/.exec(m.body)![1], le4 = /mosaicbert_batch_size_bucket\{le="4"\} (\d+)/.exec(m.body)![1];
  assert.ok(Number(le8) > Number(le4), 'a batch of 5 inputs was recorded');
});

test('concurrent requests of mixed lengths each get their own result', async () => {
  const fe = await pipeline('feature-extraction', mlmDir, quiet);
  const words = 'the quick brown fox jumps over a lazy dog while seven wizards quietly judge boxing'.split(' ');
  const reqs = Array.from({ length: 24 }, (_, i) => {
    const n = 1 + ((i * 7) % 40);
    return Array.from({ length: n }, (_, j) => words[(i + j) % words.length]).join(' ');
  });
  const res = await Promise.all(reqs.map((t, i) => (i % 2 ? call(mlm, '/embed', { inputs: [t] })
    : call(mlm, '/v1/embeddings', { input: t, model: 'm' }))));
  for (let i = 0; i < reqs.length; i++) {
    const want = await fe(reqs[i], { pooling: 'mean', normalize: true });
    assert.equal(res[i].status, 200);
    near(i % 2 ? res[i].body[0] : res[i].body.data[0].embedding, want.data, `request ${i}`);
  }
});

const long = 'word '.repeat(600);
/** [route, body (object or raw string), status, error_type (TEI) or param (OpenAI), message pattern]. */
const bad: Array<[string, unknown, number, string | null, RegExp]> = [
  ['/embed', '{"inputs": ["a",', 400, 'Validation', /malformed JSON body/],
  ['/embed', '', 400, 'Empty', /request body is empty/],
  ['/embed', '[1, 2]', 422, 'Validation', /^body must be object/],
  ['/embed', { inputs: 5 }, 422, 'Validation', /^inputs must be string or array/],
  ['/embed', { inputs: ['ok', 3] }, 422, 'Validation', /^inputs\[1\] must be string/],
  ['/embed', { inputs: 'a', normalize: 'yes' }, 422, 'Validation', /^normalize must be boolean/],
  ['/embed', { inputs: 'a', pooling: 'max' }, 422, 'Validation', /^pooling must be equal to one of the allowed values: "mean", "cls"/],
  ['/embed', { inputs: 'a', input: 'a' }, 422, 'Validation', /unknown field 'input'/],
  ['/embed', {}, 422, 'Validation', /missing required field 'inputs'/],
  ['/embed', { inputs: [] }, 400, 'Empty', /`inputs` cannot be empty/],
  ['/embed', { inputs: ['a', ''] }, 400, 'Empty', /`inputs\[1\]` is an empty string/],
  ['/embed', { inputs: Array(9).fill('a') }, 422, 'Validation', /holds 9 inputs; the maximum per request is 8/],
  ['/embed', { inputs: ['ok', long] }, 413, 'Validation', /`inputs\[1\]` must have less than 513 tokens\. Given: 602/],
  ['/embed', { inputs: 'x'.repeat(60_000) }, 413, 'Validation', /larger than 50000 bytes/],
  ['/fill-mask', { inputs: ['a [MASK]', 'no mask'] }, 422, 'Validation', /`inputs\[1\]` has no \[MASK\] token/],
  ['/fill-mask', { inputs: 'a [MASK]', parameters: { top_k: 0 } }, 422, 'Validation', /^parameters\.top_k must be >= 1/],
  ['/predict', { inputs: 'x' }, 400, 'Validation', /\/predict needs a sequence-classification model/],
  ['/nowhere', { inputs: 'x' }, 404, 'Validation', /no route POST \/nowhere/],
  ['/v1/embeddings', { input: 'a' }, 422, 'model', /missing required field 'model'/],
  ['/v1/embeddings', { input: [1], model: 'm' }, 422, 'input[0]', /^input\[0\] must be string/],
  ['/v1/embeddings', { input: 'a', model: 'm', encoding_format: 'hex' }, 422, 'encoding_format', /encoding_format must be equal to one of/],
  ['/v1/embeddings', { input: 'a', model: 'm', dimensions: 8 }, 422, 'dimensions', /`dimensions` must be 32/],
  ['/v1/embeddings', { input: long, model: 'm' }, 413, 'input', /must have less than 513 tokens\. Given: 602/],
  ['/v1/embeddings', '{"input": ', 400, null, /malformed JSON body/],
];

test('every bad input gets its status and a message naming the field, in TEI\'s or OpenAI\'s shape; the server keeps serving', async () => {
  for (const [route, body, status, kind, pattern] of bad) {
    const r = await call(mlm, route, body);
    const what = `${route} ${typeof body === 'string' ? body : JSON.stringify(body).slice(0, 60)}`;
    assert.equal(r.status, status, `${what}: status`);
    if (route.startsWith('/v1/')) {
      assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'message', 'param', 'type'], what);
      assert.equal(r.body.error.type, 'invalid_request_error', what);
      assert.equal(r.body.error.param, kind, `${what}: param`);
      assert.match(r.body.error.message, pattern, what);
    } else {
      assert.deepEqual(Object.keys(r.body).sort(), ['error', 'error_type'], what);
      assert.equal(r.body.error_type, kind, `${what}: error_type`);
      assert.match(r.body.error, pattern, what);
    }
    assert.ok(!/\n\s+at /.test(JSON.stringify(r.body)), `${what}: no stack trace`);
    assert.equal((await call(mlm, '/health', undefined)).status, 200, `${what}: still healthy`);
  }
  const ct = await call(mlm, '/embed', undefined, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' });
  assert.equal(ct.status, 415);
  assert.match(ct.body.error, /Content-Type/);
  // truncate: true admits the long input at max_input_length and equals the pipeline's truncation.
  const ok = await call(mlm, '/embed', { inputs: long, truncate: true });
  assert.equal(ok.status, 200);
  const fe = await pipeline('feature-extraction', mlmDir, quiet);
  near(ok.body[0], (await fe(long, { pooling: 'mean', normalize: true, max_length: 512 })).data, 'truncated');
  const after = await call(mlm, '/embed', { inputs: 'still serving' });
  assert.equal(after.status, 200);
});

/** Holds the server's batches until `open()` (wraps the batch runner; test only). */
function gate(s: RunningServer): { open: () => void; restore: () => void } {
  const opts = (s.batcher as unknown as { opts: { run: BatchRunner } }).opts;
  const run = opts.run;
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  opts.run = async (k, p) => { await held; return run(k, p); };
  return { open: release, restore: () => { opts.run = run; } };
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

test('full queue: 429 with Retry-After (TEI and OpenAI shapes); timeout 503; a closed client is dropped', async () => {
  const s = await startServer({ model: mlmDir, port: 0, log: false, maxConcurrentRequests: 2, requestTimeoutMs: 60_000 });
  try {
    const g = gate(s);
    const first = call(s, '/embed', { inputs: 'first' });
    const ac = new AbortController();
    const gone = call(s, '/embed', { inputs: 'client goes away' }, { signal: ac.signal }).catch((e: Error) => e);
    await until('two requests admitted', () => s.batcher.inFlight === 2);
    const full = await call(s, '/embed', { inputs: 'one too many' });
    assert.equal(full.status, 429);
    assert.equal(full.body.error_type, 'Overloaded');
    assert.ok(Number(full.headers.get('retry-after')) >= 1);
    const fullOa = await call(s, '/v1/embeddings', { input: 'x', model: 'm' });
    assert.equal(fullOa.status, 429);
    assert.equal(fullOa.body.error.type, 'rate_limit_error');
    ac.abort();
    assert.ok((await gone) instanceof Error);
    await until('the closed request dropped', () => s.batcher.inFlight === 1);
    assert.equal(s.batcher.depth, 0, 'its input left the queue');
    g.open();
    assert.equal((await first).status, 200);
    g.restore();
  } finally {
    await s.drain(5000);
  }
  const t = await startServer({ model: mlmDir, port: 0, log: false, requestTimeoutMs: 100 });
  try {
    const g = gate(t);
    const r = await call(t, '/embed', { inputs: 'waits forever' });
    assert.equal(r.status, 503);
    assert.match(r.body.error, /timed out after 100 ms/);
    g.open();
  } finally {
    await t.drain(5000);
  }
});

test('--dtype q8 serves INT8 projections (/info says int8); an unknown dtype is refused', async () => {
  const t = await startServer({ model: mlmDir, port: 0, log: false, dtype: 'q8' });
  try {
    const info = await (await fetch(`${t.url}/info`)).json() as { model_dtype: string };
    assert.equal(info.model_dtype, 'int8');
    const r = await fetch(`${t.url}/embed`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: 'a short sentence' }) });
    assert.equal(r.status, 200);
  } finally {
    await t.drain(5000);
  }
  await assert.rejects(startServer({ model: mlmDir, port: 0, log: false, dtype: 'fp16' }), /--dtype must be fp32 or q8/);
});
