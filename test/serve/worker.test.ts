/**
 * The model worker of the server (src/serve/worker_host.ts, worker.ts): the event loop answers /health while a
 * batch computes in the worker (judged by ordering: the worker reports the batch's arrival, /health is answered
 * and only then is the batch let go or finishes), the embeddings served equal the feature-extraction pipeline's
 * (tolerance 1e-5 absolute, as routes.test.ts: an input's floats may differ in the last bits with its batch), an
 * error thrown in the worker reaches the client as a 500 without its stack, a worker that dies fails its batch
 * with 503 and is restarted (the server keeps serving), three deaths within a minute make it give up (503,
 * onFatal), and a drain terminates the worker. Small random MosaicBERTs saved by savePretrained.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { savePretrained } from '../../src/interop/pretrained.js';
import { MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { configFromDict } from '../../src/model/config.js';
import { pipeline } from '../../src/pipelines/index.js';
import { startServer, toServeError, type RunningServer } from '../../src/serve/server.js';
import { WorkerHost } from '../../src/serve/worker_host.js';
import { ServeError } from '../../src/serve/errors.js';
import { fromWire, toWire } from '../../src/serve/worker_protocol.js';

const TOL = 1e-5;
// mosaic-bert-tiny's shape (hidden 128): one batch of 16 inputs of ~480 tokens is ~8k tokens of forward.
const H = 128;
const dir = mkdtempSync(join(tmpdir(), 'mb-serve-worker-'));
savePretrained(new MosaicBertForMaskedLM(configFromDict({ vocab_size: 30528, hidden_size: H, num_hidden_layers: 2,
  num_attention_heads: 2, intermediate_size: 512 }), { initSeed: 11 }), dir);
const quiet = { load: { warn: () => {} } };

let s: RunningServer;
const lines: Array<Record<string, unknown>> = [];
before(async () => {
  s = await startServer({ model: dir, port: 0, log: (l) => lines.push(l), maxBatchTokens: 8192, maxClientBatchSize: 16 });
});
after(async () => { await s.drain(5000); });

const post = (srv: RunningServer, path: string, body: unknown) => fetch(srv.url + path, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
}).then(async (r) => ({ status: r.status, body: await r.json() as any }));

function near(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= TOL, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

// Single-piece words: n words are n + 2 tokens (at most 487 here, under the 512 limit).
const words = 'the of and to in was is for on as'.split(' ');
const longTexts = Array.from({ length: 16 }, (_, i) => Array.from({ length: 470 + i }, (_, j) => words[(i + j) % 10]).join(' '));

test('worker mode is the default, and the server says so', () => {
  assert.equal(s.host.mode, 'worker');
  assert.equal(lines.find((l) => l.event === 'ready')?.worker, true);
});

test('/health and /metrics answer while a long batch computes in the worker; its embeddings equal the pipeline\'s', { timeout: 120_000 }, async () => {
  const host = s.host as WorkerHost;
  const hook = host.testNextBatch(false);
  let done = false;
  const big = post(s, '/embed', { inputs: longTexts }).then((r) => { done = true; return r; });
  // The batch of ~7.7k tokens is in the worker: its forward takes far longer than a /health round trip.
  await Promise.race([hook.started, big.then((r) => assert.fail(`answered before its batch started: ${JSON.stringify(r).slice(0, 200)}`))]);
  const h = await fetch(`${s.url}/health`);
  assert.equal(h.status, 200);
  const m = await (await fetch(`${s.url}/metrics`)).text();
  assert.equal(done, false, '/health and /metrics were answered before the batch finished');
  assert.match(m, /^mosaicbert_requests_in_flight 1$/m, 'the long request is in flight during the scrape');
  const r = await big;
  assert.equal(r.status, 200);
  const fe = await pipeline('feature-extraction', dir, quiet);
  const want = await fe(longTexts, { pooling: 'mean', normalize: true });
  r.body.forEach((v: number[], i: number) => near(v, want.data.subarray(i * H, (i + 1) * H), `input ${i}`));
});

test('a worker thread blocked in a batch does not block the event loop (held until /health has answered)', { timeout: 60_000 }, async () => {
  const host = s.host as WorkerHost;
  const hook = host.testNextBatch(true);
  let done = false;
  const req = post(s, '/embed', { inputs: 'held in the worker' }).then((r) => { done = true; return r; });
  await Promise.race([hook.started, req.then((r) => assert.fail(`answered before its batch started: ${r.status}`))]);
  // With the model on this thread this request could not be answered: the batch would block it until released.
  assert.equal((await fetch(`${s.url}/health`)).status, 200);
  assert.equal(done, false);
  hook.release();
  assert.equal((await req).status, 200);
});

test('an error thrown in the worker becomes the batch\'s error (500 to the client, no stack); ServeErrors keep their status', async () => {
  const err = await s.batcher.submit('no-such-key', [{ tokens: 1, payload: 'x' }]).then(() => null, (e: Error) => e);
  assert.ok(err instanceof Error && !(err instanceof ServeError));
  assert.match(err.message, /unknown batch key 'no-such-key'/);
  assert.match(err.stack ?? '', /in the model worker/, 'the worker\'s stack, for the log line');
  const se = toServeError(err, 1);
  assert.equal(se.status, 500);
  assert.equal(se.message, 'internal error');
  const back = fromWire(toWire(new ServeError(413, 'Validation', 'too long', 'inputs[2]', 'context_length_exceeded')));
  assert.ok(back instanceof ServeError);
  assert.deepEqual([back.status, back.type, back.message, back.param, back.code], [413, 'Validation', 'too long', 'inputs[2]', 'context_length_exceeded']);
  assert.equal((await post(s, '/embed', { inputs: 'still serving' })).status, 200);
});

test('a worker that dies mid-batch: 503 to its client (no stack), logged, restarted, and the server keeps serving', { timeout: 60_000 }, async () => {
  const fatal: Error[] = [];
  const t = await startServer({ model: dir, port: 0, log: (l) => lines.push(l), onFatal: (e) => fatal.push(e) });
  try {
    const host = t.host as WorkerHost;
    const fe = await pipeline('feature-extraction', dir, quiet);
    const want = await fe('after the crash', { pooling: 'mean', normalize: true });
    for (let crash = 1; crash <= 2; crash++) {
      host.testExitOnNextBatch(70 + crash);
      const r = await post(t, '/embed', { inputs: 'this batch kills the worker' });
      assert.equal(r.status, 503, `crash ${crash}`);
      assert.equal(r.body.error_type, 'Unhealthy');
      assert.match(r.body.error, /model worker stopped while computing this batch; it is restarting/);
      assert.ok(!/\n\s+at /.test(JSON.stringify(r.body)), 'no stack trace');
      assert.ok(lines.some((l) => l.event === 'worker_exit' && l.code === 70 + crash && l.restarting === true), `crash ${crash} logged`);
      // Queued until the new worker is ready (no timing: the request waits for it).
      const ok = await post(t, '/embed', { inputs: 'after the crash' });
      assert.equal(ok.status, 200);
      near(ok.body[0], want.data, `after crash ${crash}`);
      assert.equal((await fetch(`${t.url}/health`)).status, 200);
    }
    assert.equal(fatal.length, 0);
    // A third death within a minute: the host gives up.
    host.testExitOnNextBatch(73);
    const r = await post(t, '/embed', { inputs: 'third crash' });
    assert.equal(r.status, 503);
    assert.equal(fatal.length, 1);
    assert.match(fatal[0].message, /died 3 times within 60 s \(last exit code 73\)/);
    assert.equal((await fetch(`${t.url}/health`)).status, 503);
    const after = await post(t, '/embed', { inputs: 'nobody computes this' });
    assert.equal(after.status, 503);
    assert.match(after.body.error, /model is not available/);
  } finally {
    await t.drain(5000);
  }
});

test('worker: false keeps the model in process with the same answers; a drain terminates the worker', { timeout: 60_000 }, async () => {
  const t = await startServer({ model: dir, port: 0, log: false, worker: false });
  const u = await startServer({ model: dir, port: 0, log: false });
  try {
    assert.equal(t.host.mode, 'in-process');
    const texts = ['one short input', 'and a second, somewhat longer, input sentence'];
    const a = await post(t, '/embed', { inputs: texts });
    const b = await post(u, '/embed', { inputs: texts });
    a.body.forEach((v: number[], i: number) => near(v, b.body[i], `in-process vs worker ${i}`));
  } finally {
    await t.drain(5000);
    await u.drain(5000);
  }
  assert.equal(u.host.ready(), false, 'the drained server\'s worker is gone');
});
