/**
 * Parity with the reference: every tensor of every fixture folder (../shared/fixtures/mosaicbert-tiny and the extra
 * shapes in test/fixtures) within the fixture README's tolerances, through the native kernels and through the
 * float64 reference kernels; and the `check-fixture` command's output and exit codes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkFixture } from '../../src/interop/check_fixture.js';
import { referenceKernels } from '../../src/kernels/reference/index.js';
import { sharedDir } from '../helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const shared = sharedDir();
const tiny = shared ? join(shared, 'fixtures', 'mosaicbert-tiny') : null;
const extra = readdirSync(join(root, 'test', 'fixtures'), { withFileTypes: true })
  .filter((e) => e.isDirectory()).map((e) => join(root, 'test', 'fixtures', e.name));

function assertAllOk(dir: string, kernels?: typeof referenceKernels): number {
  const rows = checkFixture(dir, { kernels });
  const bad = rows.filter((r) => !r.ok);
  assert.equal(bad.length, 0, `${dir}: ${bad.map((r) => `${r.name} (err ${r.maxAbsErr}, tol ${r.tol})`).join('; ')}`);
  return rows.length;
}

test('mosaicbert-tiny fixture: every tensor within tolerance (native kernels)', { skip: !tiny && 'no ../shared' }, () => {
  const n = assertAllOk(tiny!);
  assert.ok(n > 100, `only ${n} tensors checked`);
});

test('mosaicbert-tiny fixture: every tensor within tolerance (float64 reference kernels)', { skip: !tiny && 'no ../shared' }, () => {
  assertAllOk(tiny!, referenceKernels);
});

for (const dir of extra) {
  test(`fixture ${dir.split('/').pop()}: every tensor within tolerance (native kernels)`, () => {
    assertAllOk(dir);
  });
}

const cli = join(root, 'bin', 'mosaicbert.js');

test('check-fixture prints one OK line per tensor and exits 0', { skip: !tiny && 'no ../shared' }, () => {
  const r = spawnSync(process.execPath, [cli, 'check-fixture', tiny!], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const lines = r.stdout.trim().split('\n');
  const tensorLines = lines.slice(0, -1);
  assert.ok(tensorLines.every((l) => / OK$/.test(l)), lines.filter((l) => !/ OK$/.test(l)).join('\n'));
  assert.match(lines[lines.length - 1], /^\d+ OK, 0 FAIL$/);
});

test('check-fixture reports FAIL and exits 1 when a weight is perturbed', () => {
  const src = extra.find((d) => d.endsWith('batch1-heads5'))!;
  const tmp = mkdtempSync(join(tmpdir(), 'mb-fixture-'));
  try {
    cpSync(src, tmp, { recursive: true });
    // Flip one float of the first tensor's data (the file's last 4 bytes belong to some tensor's last element).
    const f = join(tmp, 'model.safetensors');
    const buf = readFileSync(f);
    buf.writeFloatLE(buf.readFloatLE(buf.length - 4) + 0.5, buf.length - 4);
    writeFileSync(f, buf);
    const r = spawnSync(process.execPath, [cli, 'check-fixture', tmp], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, / FAIL$/m);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('check-fixture names the missing file for a folder that is not a fixture', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'mb-empty-'));
  try {
    const r = spawnSync(process.execPath, [cli, 'check-fixture', tmp], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /missing config\.json/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

