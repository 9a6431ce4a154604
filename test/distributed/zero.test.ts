/**
 * ZeRO-1 without MPI: shard boundaries; ShardedAdamW on P emulated ranks (an in-process world whose collectives
 * complete when the last rank calls them) equals DecoupledAdamW bit for bit over steps with weight decay and a
 * changing learning rate; its checkpoints are byte-identical to the unsharded optimizer's and resume into it; the
 * option parsing and the single-process warning. The real 2-rank runs are in zero_mpi.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shardBounds, type Collectives } from '../../src/distributed/collectives.js';
import { createAdamW, momentBytesPerRank, parseZeroStage, ShardedAdamW } from '../../src/distributed/zero.js';
import { DecoupledAdamW } from '../../src/train/decoupled_adamw.js';
import { loadCheckpoint, saveCheckpoint, type TrainerState } from '../../src/train/checkpoint.js';
import { ParamStore, layoutParams } from '../../src/model/params.js';
import { nativeKernels } from '../../src/kernels/native.js';

const k = nativeKernels();

/**
 * P ranks in one thread: each rank's i-th collective call records its part; the i-th operation runs when the last
 * rank has made its i-th call (so the test drives the ranks one after the other; buffers are kept by reference).
 */
class World {
  private pending = new Map<number, Array<{ rank: number; args: unknown[] }>>();
  private seq: number[];
  calls = 0;
  constructor(readonly size: number) { this.seq = new Array(size).fill(0); }
  rank(r: number): Collectives {
    const w = this;
    const unsupported = () => { throw new Error('not used by ShardedAdamW'); };
    return { rank: r, size: this.size, seconds: 0, allreduceSum: unsupported, sumF64: unsupported, broadcast: unsupported,
      barrier: unsupported,
      allgather(buf, bounds) { w.arrive(r, [buf, bounds], (all) => {
        for (const { rank: q, args: [src] } of all) {
          for (const { args: [dst] } of all) {
            if (dst !== src) (dst as Float32Array).set((src as Float32Array).subarray(bounds[q], bounds[q + 1]), bounds[q]);
          }
        }
      }); },
      gather(send, recv, bounds, root) { w.arrive(r, [send, recv], (all) => {
        const dst = all.find((x) => x.rank === root)!.args[1] as Float32Array;
        for (const { rank: q, args: [s] } of all) dst.set(s as Float32Array, bounds[q]);
      }); },
    };
  }
  private arrive(rank: number, args: unknown[], run: (all: Array<{ rank: number; args: unknown[] }>) => void): void {
    const i = this.seq[rank]++;
    const all = [...(this.pending.get(i) ?? []), { rank, args }];
    this.pending.set(i, all);
    if (all.length === this.size) { this.calls++; this.pending.delete(i); run(all); }
  }
}

/**
 * A small parameter layout (tensors of odd sizes, so shard ends fall inside tensors and alignment gaps exist) with
 * seeded values; the gaps stay zero, as in a model (checkpoints store the tensors, not the gaps).
 */
function store(seed: number): ParamStore {
  const p = new ParamStore(layoutParams([['a', [37, 5]], ['b', [11]], ['c', [3, 29]], ['d', [101]]]));
  let x = seed;
  for (const s of p.specs) {
    for (let i = s.offset; i < s.offset + s.size; i++) { x = (x * 1103515245 + 12345) >>> 0; p.data[i] = (x / 2 ** 32 - 0.5) * 0.2; }
  }
  return p;
}
const OPTS = { lr: 1e-3, betas: [0.9, 0.98] as [number, number], eps: 1e-6, weight_decay: 0.01 };
const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

test('shardBounds: contiguous, 16-aligned, balanced within 16, covers the buffer; errors name the argument', () => {
  for (const [n, P] of [[1000, 2], [1000, 3], [17, 4], [0, 2], [16 * 64 + 5, 64], [5, 1]]) {
    const b = shardBounds(n, P);
    assert.equal(b.length, P + 1);
    assert.equal(b[0], 0);
    assert.equal(b[P], n);
    const sizes = [];
    for (let r = 0; r < P; r++) {
      assert.ok(b[r + 1] >= b[r]);
      if (b[r] < n) assert.equal(b[r] % 16, 0, `n=${n} P=${P}: bound ${r} = ${b[r]}`);
      sizes.push(b[r + 1] - b[r]);
    }
    // All shards but the one holding the end are whole multiples of 16, and no two differ by more than 16.
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 16, `n=${n} P=${P}: ${sizes}`);
  }
  assert.throws(() => shardBounds(10, 0), /P must be an integer >= 1, got 0/);
  assert.throws(() => shardBounds(-1, 2), /n must be an integer >= 0/);
});

test('moment bytes per rank: 8 per parameter of the shard; the shards add up to the unsharded 8 n', () => {
  const n = 12116544;
  assert.deepEqual(momentBytesPerRank(n, 1), [8 * n]);
  assert.deepEqual(momentBytesPerRank(n, 2, 0), [8 * n, 8 * n]);
  for (const P of [2, 8, 64]) {
    const per = momentBytesPerRank(n, P);
    assert.equal(per.reduce((a, b) => a + b, 0), 8 * n);
    assert.ok(Math.max(...per) <= 8 * (Math.ceil(n / P) + 16));
  }
});

test('ShardedAdamW on 2 and 3 emulated ranks == DecoupledAdamW bit for bit (weights and moments, 4 steps)', () => {
  for (const P of [2, 3]) {
    const world = new World(P);
    const ref = store(1);
    const refOpt = new DecoupledAdamW(ref, OPTS, k);
    const ranks = Array.from({ length: P }, (_, r) => {
      const params = store(1);
      return { params, opt: new ShardedAdamW(params, OPTS, k, world.rank(r)) };
    });
    for (let t = 1; t <= 4; t++) {
      const g = store(100 + t);   // the summed gradient every rank holds after the all-reduce
      const lr = OPTS.lr * (1 - 0.2 * t);
      refOpt.step(g, lr);
      for (const { opt } of ranks) opt.step(g, lr);
    }
    assert.ok(!bits(ref.data).equals(bits(store(1).data)), 'the weights moved');
    for (const { params, opt } of ranks) {
      assert.ok(bits(params.data).equals(bits(ref.data)), `P=${P} rank ${opt.collectives.rank}: weights differ`);
      assert.equal(opt.t, 4);
      assert.ok(bits(opt.shardExpAvg).equals(bits(refOpt.expAvg.data.subarray(opt.lo, opt.hi))));
      assert.ok(bits(opt.shardExpAvgSq).equals(bits(refOpt.expAvgSq.data.subarray(opt.lo, opt.hi))));
      assert.equal(opt.momentBytes, 8 * (opt.hi - opt.lo));
    }
    assert.equal(ranks.reduce((a, { opt }) => a + opt.momentBytes, 0), 8 * ref.data.length);
  }
});

test('ZeRO-1 checkpoint: gathered to rank 0, byte-identical to the unsharded one; resume re-shards and continues exactly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mosaicbert-zero-'));
  try {
    const world = new World(2);
    const ref = store(3), refOpt = new DecoupledAdamW(ref, OPTS, k);
    const ranks = [0, 1].map((r) => { const params = store(3); return { params, opt: new ShardedAdamW(params, OPTS, k, world.rank(r)) }; });
    const grads = Array.from({ length: 5 }, (_, i) => store(200 + i));
    for (const g of grads.slice(0, 3)) { refOpt.step(g, 1e-3); for (const { opt } of ranks) opt.step(g, 1e-3); }
    // Only rank 0 holds the full moments, and only after the gather.
    assert.throws(() => ranks[0].opt.expAvg, /exist only on rank 0 after gatherForCheckpoint\(\)/);
    for (const { opt } of ranks) opt.gatherForCheckpoint();
    const calls = world.calls;
    for (const { opt } of ranks) opt.gatherForCheckpoint();
    assert.equal(world.calls, calls, 'a second gather at the same step must not communicate');
    assert.throws(() => ranks[1].opt.expAvgSq, /rank 1 of 2/);
    const state = { step: 3, samples: 0, tokens: 0, optimizer_t: 3, rng: { seed: 0, dropout_counter_base: 0 },
      loader: { epoch: 0, position: 0 }, total: { value: 5, unit: 'ba' }, elapsed_s: 0 } as TrainerState;
    const zeroDir = saveCheckpoint(join(dir, 'zero'), ranks[0].params, ranks[0].opt as unknown as DecoupledAdamW, state, {});
    const refDir = saveCheckpoint(join(dir, 'ref'), ref, refOpt, state, {});
    for (const f of ['model.safetensors', 'optimizer.safetensors']) {
      assert.ok(readFileSync(join(zeroDir, f)).equals(readFileSync(join(refDir, f))), `${f} differs from the unsharded checkpoint`);
    }
    // Resume on 2 fresh ranks from the checkpoint; 2 more steps equal the uninterrupted optimizer.
    const world2 = new World(2);
    const resumed = [0, 1].map((r) => {
      const params = store(99);
      const opt = new ShardedAdamW(params, OPTS, k, world2.rank(r));
      loadCheckpoint(zeroDir, params, opt as unknown as DecoupledAdamW);
      return { params, opt };
    });
    assert.throws(() => resumed[1].opt.expAvg, /exist only on rank 0/, 'the loaded full moments were not freed');
    for (const g of grads.slice(3)) { refOpt.step(g, 5e-4); for (const { opt } of resumed) opt.step(g, 5e-4); }
    for (const { params, opt } of resumed) {
      assert.equal(opt.t, 5);
      assert.ok(bits(params.data).equals(bits(ref.data)), 'weights differ after resume');
      assert.ok(bits(opt.shardExpAvgSq).equals(bits(refOpt.expAvgSq.data.subarray(opt.lo, opt.hi))), 'exp_avg_sq differs after resume');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('zero stage: 0/1 accepted; 2 refused naming the flag; 1 in a single process warns and keeps DecoupledAdamW', () => {
  assert.equal(parseZeroStage(undefined), 0);
  assert.equal(parseZeroStage('1'), 1);
  assert.throws(() => parseZeroStage('2'), /^Error: --zero: expected 0 or 1 .* got '2'$/);
  assert.throws(() => createAdamW(store(0), OPTS, k, { zeroStage: 3 as 1 }), /zeroStage: expected 0 or 1/);
  const said: string[] = [];
  const single = createAdamW(store(0), OPTS, k, { zeroStage: 1, report: (m) => said.push(m) });
  assert.ok(single instanceof DecoupledAdamW);
  assert.match(said[0], /^warning: ZeRO-1 \(--zero 1\) has no effect in a single process/);
  const p = store(0);
  const sharded = createAdamW(p, OPTS, k, { zeroStage: 1, collectives: new World(2).rank(0), report: (m) => said.push(m) });
  assert.ok((sharded as unknown) instanceof ShardedAdamW);
  const per = momentBytesPerRank(p.data.length, 2);
  assert.equal(per[0], 8 * shardBounds(p.data.length, 2)[1]);
  assert.equal(said[1], `ZeRO-1: AdamW moments sharded over 2 ranks: ${Math.max(...per)} bytes per rank at most ` +
    `(${(Math.max(...per) / 1e6).toFixed(1)} MB; rank 0 ${per[0]}), ${8 * p.data.length} bytes unsharded ` +
    `(${(8 * p.data.length / 1e6).toFixed(1)} MB, 8 bytes/parameter)`);
  assert.ok(createAdamW(p, OPTS, k, { zeroStage: 0, report: (m) => said.push(m) }) instanceof DecoupledAdamW);
  assert.equal(said.length, 2);
});
