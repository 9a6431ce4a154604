/**
 * The safe `pytorch_model.bin` reader: fixture checkpoints equal their safetensors twins (tied keys share one
 * buffer), malicious pickles are refused by name with nothing run, strided / offset views are materialised
 * contiguous, dtype conversions, deflated entries, the legacy format, and (when /usr/bin/python3 has torch)
 * checkpoints written by torch itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTorchCheckpoint, readTorchCheckpoint } from '../../src/io/torch_pickle.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { unpickle, PyDict } from '../../src/io/pickle.js';
import { sharedDir } from '../helpers.js';
import { PickleBuilder, writeTorchZip, writeZip } from './torch_writer.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const shared = sharedDir();
const fixtureDirs = [
  ...(shared ? [join(shared, 'fixtures', 'mosaicbert-tiny')] : []),
  ...readdirSync(join(root, 'test', 'fixtures'), { withFileTypes: true })
    .filter((e) => e.isDirectory()).map((e) => join(root, 'test', 'fixtures', e.name)),
];

function hasTorch(): boolean {
  if (!existsSync('/usr/bin/python3')) return false;
  return spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
}
const torchOk = hasTorch();

for (const dir of fixtureDirs) {
  test(`fixture ${dir.split('/').pop()}: pytorch_model.bin equals model.safetensors, tied keys share storage`, () => {
    const ck = readTorchCheckpoint(join(dir, 'pytorch_model.bin'));
    assert.equal(ck.format, 'zip');
    assert.deepEqual(ck.skipped, []);
    const st = readSafetensors(join(dir, 'model.safetensors')).tensors;
    for (const [k, v] of st) {
      const w = ck.tensors.get(k);
      assert.ok(w, `${k} missing from the .bin`);
      assert.deepEqual(w.shape, v.shape, k);
      assert.equal(w.dtype, 'F32');
      assert.deepEqual(w.data, v.data, k);
    }
    // The .bin holds the tied decoder too (same storage), the safetensors does not.
    const keys = [...ck.tensors.keys()].filter((k) => !st.has(k));
    assert.deepEqual(keys, ['cls.predictions.decoder.weight']);
    const dec = ck.tensors.get('cls.predictions.decoder.weight')!, emb = ck.tensors.get('bert.embeddings.word_embeddings.weight')!;
    assert.equal(dec.data.buffer, emb.data.buffer);
    assert.equal(dec.data.byteOffset, emb.data.byteOffset);
    // The top-level OrderedDict carried `_metadata` via BUILD; it is kept as inert data.
    assert.ok(ck.object instanceof PyDict && ck.object.ordered && ck.object.state instanceof PyDict);
  });
}

const MARKER = join(tmpdir(), `mb-pwned-${process.pid}`);

function maliciousPickle(module: string, name: string, stack = false): Uint8Array {
  const p = new PickleBuilder().proto(2);
  if (stack) p.stackGlobal(module, name); else p.global(module, name);
  return p.str(`touch ${MARKER}`).tuple1().reduce().stop().build();
}

test('a pickle calling os.system is refused by name and nothing runs (raw, zipped, STACK_GLOBAL)', () => {
  rmSync(MARKER, { force: true });
  assert.throws(() => parseTorchCheckpoint(maliciousPickle('os', 'system'), 'evil.bin'), /'os\.system'/);
  const zipped = writeZip([{ name: 'archive/data.pkl', data: maliciousPickle('os', 'system') },
    { name: 'archive/version', data: Buffer.from('3\n') }]);
  assert.throws(() => parseTorchCheckpoint(zipped, 'evil.bin'), /refusing to load global 'os\.system'.*nothing was executed/);
  assert.throws(() => parseTorchCheckpoint(maliciousPickle('os', 'system', true)), /'os\.system'/);
  assert.throws(() => parseTorchCheckpoint(maliciousPickle('builtins', 'eval')), /'builtins\.eval'/);
  assert.throws(() => parseTorchCheckpoint(maliciousPickle('__builtin__', 'getattr')), /'__builtin__\.getattr'/);
  assert.throws(() => parseTorchCheckpoint(maliciousPickle('subprocess', 'Popen')), /'subprocess\.Popen'/);
  // A file on disk too.
  const tmp = mkdtempSync(join(tmpdir(), 'mb-evil-'));
  try {
    writeFileSync(join(tmp, 'pytorch_model.bin'), zipped);
    assert.throws(() => readTorchCheckpoint(join(tmp, 'pytorch_model.bin')), /os\.system/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  assert.equal(existsSync(MARKER), false, 'the payload ran');
});

test('allowed globals cannot be abused: INST/OBJ refused, storage classes are not callable, BUILD only on dicts', () => {
  assert.throws(() => parseTorchCheckpoint(Uint8Array.from([0x80, 0x02, 0x28, 0x69, ...Buffer.from('os\nsystem\n'), 0x2e])),
    /INST 'os\.system' is not allowed/);
  const callStorage = new PickleBuilder().proto(2).global('torch', 'FloatStorage').emptyTuple().reduce().stop().build();
  assert.throws(() => parseTorchCheckpoint(callStorage), /'torch\.FloatStorage' is not an allowed callable/);
  const buildOnTuple = new PickleBuilder().proto(2).emptyTuple().raw(0x7d).raw(0x62).stop().build();
  assert.throws(() => unpickle(buildOnTuple, { globals: new Map() }), /BUILD on a tuple is not allowed/);
  assert.throws(() => unpickle(new PickleBuilder().proto(2).int(1).build(), { globals: new Map() }), /truncated/);
});

test('strided, offset and transposed views are materialised contiguous; shared storages stay shared', () => {
  const base = Float32Array.from({ length: 24 }, (_, i) => i);  // a [4, 6] matrix
  const buf = writeTorchZip([base], [
    { key: 'full', storage: 0, offset: 0, shape: [4, 6], stride: [6, 1] },
    { key: 'rows1to3', storage: 0, offset: 6, shape: [2, 6], stride: [6, 1] },          // offset, contiguous
    { key: 'transposed', storage: 0, offset: 0, shape: [6, 4], stride: [1, 6] },         // .t()
    { key: 'everyOtherCol', storage: 0, offset: 1, shape: [4, 3], stride: [6, 2] },      // [:, 1::2]
    { key: 'column', storage: 0, offset: 2, shape: [4, 1], stride: [6, 1] },             // [:, 2:3]
    { key: 'scalar', storage: 0, offset: 23, shape: [], stride: [] },
    { key: 'broadcast', storage: 0, offset: 0, shape: [3, 2], stride: [0, 1] },          // expand()
    { key: 'empty', storage: 0, offset: 0, shape: [0, 6], stride: [6, 1] },
  ]);
  for (const deflate of [false, true]) {
    const ck = parseTorchCheckpoint(deflate ? writeTorchZip([base], [{ key: 'transposed', storage: 0, offset: 0, shape: [6, 4], stride: [1, 6] }], { deflate }) : buf);
    const t = ck.tensors.get('transposed')!;
    assert.deepEqual([...t.data], [0, 6, 12, 18, 1, 7, 13, 19, 2, 8, 14, 20, 3, 9, 15, 21, 4, 10, 16, 22, 5, 11, 17, 23]);
    assert.deepEqual(t.shape, [6, 4]);
  }
  const ck = parseTorchCheckpoint(buf);
  const g = (k: string) => [...ck.tensors.get(k)!.data];
  assert.deepEqual(g('full'), [...base]);
  assert.deepEqual(g('rows1to3'), [...base.subarray(6, 18)]);
  assert.equal(ck.tensors.get('rows1to3')!.data.buffer, ck.tensors.get('full')!.data.buffer, 'contiguous view copied');
  assert.deepEqual(g('everyOtherCol'), [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23]);
  assert.deepEqual(g('column'), [2, 8, 14, 20]);
  assert.deepEqual(g('scalar'), [23]);
  assert.deepEqual(ck.tensors.get('scalar')!.shape, []);
  assert.deepEqual(g('broadcast'), [0, 1, 0, 1, 0, 1]);
  assert.deepEqual(g('empty'), []);
  // A view reaching past its storage is an error naming the key.
  const bad = writeTorchZip([base], [{ key: 'oob', storage: 0, offset: 20, shape: [2, 3], stride: [3, 1] }]);
  assert.throws(() => parseTorchCheckpoint(bad), /tensor 'oob'.*reaches element 25 of a 24-element storage/);
});

test('fp16 / bf16 / int32 / int64 storages convert to F32 / I32; int64 out of int32 range is an error', () => {
  const half = Uint16Array.from([0x3c00, 0xc000, 0x3555, 0x0001, 0x7c00, 0x0000]); // 1, -2, ~0.333, 2^-24, inf, 0
  const ck = parseTorchCheckpoint(writeTorchZip([half], [{ key: 'h', storage: 0, offset: 0, shape: [6], stride: [1] }]));
  const h = ck.tensors.get('h')!;
  assert.equal(h.dtype, 'F32');
  assert.deepEqual([...h.data], [1, -2, Math.fround(0.333251953125), 2 ** -24, Infinity, 0]);
  const bf = Uint16Array.from([0x3f80, 0xc040, 0x3eab]); // 1, -3, 0.333984375
  const cb = parseTorchCheckpoint(writeTorchZip([bf], [{ key: 'b', storage: 0, offset: 0, shape: [3], stride: [1] }], { u16Type: 'BFloat16Storage' }));
  assert.deepEqual([...cb.tensors.get('b')!.data], [1, -3, 0.333984375]);
  const ints = parseTorchCheckpoint(writeTorchZip([Int32Array.from([5, -7, 9]), BigInt64Array.from([1n, -2n, 2147483647n, -2147483648n])], [
    { key: 'i32', storage: 0, offset: 0, shape: [3], stride: [1] },
    { key: 'i64', storage: 1, offset: 1, shape: [3], stride: [1] },
  ]));
  assert.equal(ints.tensors.get('i32')!.dtype, 'I32');
  assert.deepEqual([...ints.tensors.get('i32')!.data], [5, -7, 9]);
  assert.deepEqual([...ints.tensors.get('i64')!.data], [-2, 2147483647, -2147483648]);
  const big = writeTorchZip([BigInt64Array.from([1n, 2147483648n])], [{ key: 'ids', storage: 0, offset: 0, shape: [2], stride: [1] }]);
  assert.throws(() => parseTorchCheckpoint(big), /int64 value 2147483648 at element 1 does not fit in int32/);
});

test('non-checkpoints are named clearly', () => {
  assert.throws(() => parseTorchCheckpoint(Buffer.from('hello world'), 'x.bin'), /x\.bin: not a PyTorch checkpoint/);
  assert.throws(() => parseTorchCheckpoint(writeZip([{ name: 'a.txt', data: Buffer.from('a') }]), 'y.bin'), /without '<archive>\/data\.pkl'/);
  const notDict = new PickleBuilder().proto(2).mark().tuple().stop().build();
  assert.throws(() => parseTorchCheckpoint(writeZip([{ name: 'a/data.pkl', data: notDict }])), /not a state dict/);
});

test('checkpoints written by torch itself: views, dtypes, legacy format (needs /usr/bin/python3 with torch)',
  { skip: !torchOk && 'no /usr/bin/python3 with torch' }, () => {
    const tmp = mkdtempSync(join(tmpdir(), 'mb-torch-'));
    try {
      const script = `
import torch, json, sys
torch.manual_seed(0)
w = torch.randn(5, 7)
sd = {
  'w': w, 'wt': w.t(), 'cols': w[:, 1::3], 'row': w[2], 'slice': w[1:4, 2:6],
  'h': torch.randn(3, 4).half(), 'bf': torch.randn(4).bfloat16(), 'd': torch.randn(2, 3).double(),
  'l': torch.tensor([[1, -2], [3, 2**31 - 1]]), 'i': torch.tensor([4, 5], dtype=torch.int32),
  'b': torch.tensor([True, False, True]), 'u8': torch.tensor([0, 255], dtype=torch.uint8),
  'p': torch.nn.Parameter(torch.ones(2)),
}
expect = {k: v.detach().double().flatten().tolist() for k, v in sd.items()}
shapes = {k: list(v.shape) for k, v in sd.items()}
torch.save(sd, sys.argv[1] + '/new.bin')
torch.save(sd, sys.argv[1] + '/legacy.bin', _use_new_zipfile_serialization=False)
json.dump({'expect': expect, 'shapes': shapes}, open(sys.argv[1] + '/expect.json', 'w'))
`;
      const r = spawnSync('/usr/bin/python3', ['-c', script, tmp], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const { expect, shapes } = JSON.parse(readFileSync(join(tmp, 'expect.json'), 'utf8'));
      for (const f of ['new.bin', 'legacy.bin']) {
        const ck = readTorchCheckpoint(join(tmp, f));
        assert.equal(ck.format, f === 'new.bin' ? 'zip' : 'legacy');
        for (const k of Object.keys(expect)) {
          const t = ck.tensors.get(k);
          assert.ok(t, `${f}: ${k} missing`);
          assert.deepEqual(t.shape, shapes[k], `${f}: ${k} shape`);
          assert.deepEqual([...t.data], expect[k].map((x: number) => (['l', 'i', 'b', 'u8'].includes(k) ? x : Math.fround(x))), `${f}: ${k}`);
        }
        assert.equal(ck.tensors.get('l')!.dtype, 'I32');
        assert.equal(ck.tensors.get('h')!.dtype, 'F32');
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
