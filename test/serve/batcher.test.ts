/**
 * The batcher with a recording runner (no model): packing by token budget and key, results routed back in order,
 * one input at a time with maxBatchRequests 1, 429 with Retry-After when full, dropped requests never computed,
 * timeouts, and a failing batch failing only its own requests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Batcher, type BatchRunner } from '../../src/serve/batcher.js';
import { ServeError } from '../../src/serve/errors.js';

/** A runner that records each batch and echoes `key:payload`; `gate` holds batches until opened. */
function recorder() {
  const batches: Array<{ key: string; payloads: unknown[] }> = [];
  let open: () => void = () => {};
  let gate: Promise<void> | null = null;
  const run: BatchRunner = async (key, payloads) => {
    batches.push({ key, payloads });
    if (gate) await gate;
    return payloads.map((p) => `${key}:${String(p)}`);
  };
  return {
    batches, run,
    close() { gate = new Promise<void>((r) => { open = r; }); },
    open() { gate = null; open(); },
  };
}

const items = (...toks: Array<[number, string]>) => toks.map(([tokens, payload]) => ({ tokens, payload }));

test('packs queued inputs into batches within the token budget, one key per batch, oldest first', async () => {
  const r = recorder();
  const b = new Batcher({ maxBatchTokens: 6, maxRequests: 10, timeoutMs: 10_000, run: r.run });
  // All submitted before the batch loop's first turn, so the packing is deterministic.
  const ps = [
    b.submit('a', items([3, 'r0'])), b.submit('a', items([3, 'r1'])), b.submit('b', items([2, 'x0'])),
    b.submit('a', items([3, 'r2'], [10, 'r3'])), b.submit('a', items([1, 'r4'])),
  ];
  const res = await Promise.all(ps);
  assert.deepEqual(r.batches.map((x) => [x.key, x.payloads]), [
    ['a', ['r0', 'r1']],       // 6 tokens: r2 (3) would exceed, r4 (1) too
    ['b', ['x0']],             // the head is now 'b': its key runs next
    ['a', ['r2', 'r4']],       // r3 (10) does not fit with r2; r4 does
    ['a', ['r3']],             // longer than the budget: alone
  ]);
  assert.deepEqual(res.map((x) => x.results), [['a:r0'], ['a:r1'], ['b:x0'], ['a:r2', 'a:r3'], ['a:r4']]);
  assert.deepEqual(res.map((x) => x.tokens), [3, 3, 2, 13, 1]);
  assert.equal(b.inFlight, 0);
  assert.equal(b.depth, 0);
});

test('maxBatchRequests 1 computes one input per batch', async () => {
  const r = recorder();
  const b = new Batcher({ maxBatchTokens: 100, maxBatchRequests: 1, maxRequests: 10, timeoutMs: 10_000, run: r.run });
  await Promise.all([b.submit('k', items([2, 'a'], [2, 'b'])), b.submit('k', items([2, 'c']))]);
  assert.deepEqual(r.batches.map((x) => x.payloads), [['a'], ['b'], ['c']]);
});

test('full: 429 Overloaded with Retry-After; admitted requests still complete', async () => {
  const r = recorder();
  r.close();
  const b = new Batcher({ maxBatchTokens: 100, maxRequests: 2, timeoutMs: 10_000, run: r.run });
  const p1 = b.submit('k', items([5, 'a'])), p2 = b.submit('k', items([5, 'b']));
  assert.throws(() => b.submit('k', items([5, 'c'])), (e: unknown) => e instanceof ServeError && e.status === 429 &&
    e.type === 'Overloaded' && (e.retryAfterS ?? 0) >= 1 && /2 requests in flight/.test(e.message));
  r.open();
  assert.deepEqual((await p1).results, ['k:a']);
  assert.deepEqual((await p2).results, ['k:b']);
  // Room again.
  assert.deepEqual((await b.submit('k', items([1, 'd']))).results, ['k:d']);
});

test('an aborted request is dropped from the queue and never computed; its batch-mates are unaffected', async () => {
  const r = recorder();
  r.close();
  const b = new Batcher({ maxBatchTokens: 1, maxRequests: 10, timeoutMs: 10_000, run: r.run });
  const first = b.submit('k', items([1, 'first']));
  const ac = new AbortController();
  const gone = b.submit('k', items([1, 'gone'], [1, 'gone2']), ac.signal);
  const kept = b.submit('k', items([1, 'kept']));
  await new Promise((res) => setImmediate(res));            // 'first' is now running, the rest queued
  assert.equal(b.depth, 3);
  ac.abort();
  await assert.rejects(gone, /client closed/);
  assert.equal(b.depth, 1);
  r.open();
  assert.deepEqual((await first).results, ['k:first']);
  assert.deepEqual((await kept).results, ['k:kept']);
  assert.deepEqual(r.batches.map((x) => x.payloads), [['first'], ['kept']]);
});

test('timeout: 503 and the queued inputs are dropped', async () => {
  const r = recorder();
  r.close();
  const b = new Batcher({ maxBatchTokens: 1, maxRequests: 10, timeoutMs: 50, run: r.run });
  const slow = b.submit('k', items([1, 'running']));
  const late = b.submit('k', items([1, 'late']));
  const checks = [
    assert.rejects(late, (e: unknown) => e instanceof ServeError && e.status === 503 && /timed out after 50 ms/.test(e.message)),
    assert.rejects(slow, (e: unknown) => e instanceof ServeError && e.status === 503),
  ];
  await Promise.all(checks);
  r.open();
  await b.idle();
  assert.deepEqual(r.batches.map((x) => x.payloads), [['running']]);
});

test('a failing batch rejects its own requests only; the next batch runs', async () => {
  const seen: string[][] = [];
  const b = new Batcher({ maxBatchTokens: 2, maxRequests: 10, timeoutMs: 10_000, run: async (_k, p) => {
    seen.push(p as string[]);
    if (p.includes('bad')) throw new Error('kernel exploded');
    return p.map((x) => `ok:${String(x)}`);
  } });
  const a = b.submit('k', items([1, 'bad'], [1, 'x'])), c = b.submit('k', items([1, 'y']));
  await assert.rejects(a, /kernel exploded/);
  assert.deepEqual((await c).results, ['ok:y']);
  assert.deepEqual(seen, [['bad', 'x'], ['y']]);
});

/** Submits one single-input request per entry of `delaysMs`, each that many ms after the previous one. */
async function trickle(b: Batcher, delaysMs: number[], tag: string): Promise<unknown[]> {
  const ps: Array<Promise<unknown>> = [];
  for (let i = 0; i < delaysMs.length; i++) {
    await new Promise((r) => setTimeout(r, delaysMs[i]));
    ps.push(b.submit('k', items([2, `${tag}${i}`])));
  }
  return Promise.all(ps);
}

test('refill wait: after a batch of 3, the next batch waits for 3 re-sent inputs arriving a few ms apart', async () => {
  // The wait (2 s) is far above the 3 x 5 ms spread, so the batch composition does not depend on the machine's speed.
  for (const [waitMs, expected] of [[2000, [['a0', 'a1', 'a2'], ['b0', 'b1', 'b2']]], [0, null]] as const) {
    const r = recorder();
    const b = new Batcher({ maxBatchTokens: 100, maxBatchWaitMs: waitMs, maxRequests: 10, timeoutMs: 10_000, run: r.run });
    await Promise.all([0, 1, 2].map((i) => b.submit('k', items([2, `a${i}`]))));
    await trickle(b, [1, 5, 5], 'b');
    const sizes = r.batches.map((x) => x.payloads.length);
    if (expected) {
      assert.deepEqual(r.batches.map((x) => x.payloads), expected);
    } else {
      // Without the wait the first re-sent input starts a batch of its own (what the wait exists to avoid).
      assert.equal(sizes[0], 3);
      assert.equal(sizes[1], 1, `batches without the wait: ${JSON.stringify(sizes)}`);
    }
  }
});

test('refill wait: requests sent during a batch and the re-sent ones of that batch form one batch (no alternating halves)', async () => {
  for (const waitMs of [2000, 0]) {
    const r = recorder();
    const b = new Batcher({ maxBatchTokens: 100, maxBatchWaitMs: waitMs, maxRequests: 10, timeoutMs: 10_000, run: r.run });
    r.close();
    const first = [0, 1, 2].map((i) => b.submit('k', items([2, `a${i}`])));
    while (r.batches.length === 0) await new Promise((res) => setImmediate(res));   // batch [a0 a1 a2] is computing
    const during = [0, 1].map((i) => b.submit('k', items([2, `b${i}`])));
    r.open();
    await Promise.all(first);
    // The re-sent inputs come 200 ms after the answer (far inside the 2 s wait): without the wait, b0 b1 start one
    // event-loop turn after the answer, and a 1 ms delay here raced that turn on a loaded machine (the timers phase
    // can come before the next check phase).
    await Promise.all([...during, trickle(b, [200, 5, 5], 'c')]);
    const got = r.batches.map((x) => x.payloads);
    if (waitMs > 0) assert.deepEqual(got, [['a0', 'a1', 'a2'], ['b0', 'b1', 'c0', 'c1', 'c2']]);
    else assert.deepEqual(got.slice(0, 2), [['a0', 'a1', 'a2'], ['b0', 'b1']], 'without the wait: the halves alternate');
  }
});

test('refill wait: bounded by maxBatchWaitMs when fewer inputs come back, and stops once the token budget is full', async () => {
  const r = recorder();
  const b = new Batcher({ maxBatchTokens: 4, maxBatchWaitMs: 30, maxRequests: 10, timeoutMs: 10_000, run: r.run });
  await Promise.all([0, 1].map((i) => b.submit('k', items([2, `a${i}`]))));
  // Only one of the two comes back: it still runs (after at most 30 ms), alone.
  assert.deepEqual((await b.submit('k', items([2, 'b0']))).results, ['k:b0']);
  // A 4-token input fills the budget: it does not wait for a second input that never comes.
  r.close();
  const big = b.submit('k', items([4, 'c0']));
  await new Promise((res) => setTimeout(res, 5));
  r.open();
  assert.deepEqual((await big).results, ['k:c0']);
  assert.deepEqual(r.batches.map((x) => x.payloads), [['a0', 'a1'], ['b0'], ['c0']]);
  assert.throws(() => new Batcher({ maxBatchTokens: 4, maxBatchWaitMs: -1, maxRequests: 1, timeoutMs: 1, run: r.run }), /maxBatchWaitMs/);
});
