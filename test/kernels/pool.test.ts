/**
 * The thread pool under stress, in a child process with a timeout so that a hang fails the test instead of
 * blocking the suite: (1) resizing right after creation and back and forth (a worker that had not yet read the
 * generation used to miss stop() and hang join), (2) thousands of back-to-back tiny parallel jobs whose results
 * are checked (a late worker used to be able to take a task index of the next job).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const nativeJs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'kernels', 'native.js');

function runChild(code: string): void {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.signal, null, `child killed by ${r.signal} (hang?)\n${r.stdout}${r.stderr}`);
  assert.equal(r.status, 0, r.stdout + r.stderr);
}

test('pool survives rapid resizing', () => {
  runChild(`
    import { native } from ${JSON.stringify(nativeJs)};
    const m = native();
    for (let i = 0; i < 3000; i++) { m.setNumThreads(2 + (i % 3)); m.setNumThreads(1); }
    m.setNumThreads(0);
  `);
});

test('back-to-back parallel jobs compute every task exactly once', () => {
  runChild(`
    import { native } from ${JSON.stringify(nativeJs)};
    const m = native();
    m.setNumThreads(3);  // oversubscribed on purpose: workers get descheduled mid-job
    const n = 64 * 1024, x = new Float32Array(n).fill(1), y = new Float32Array(n);
    for (let it = 0; it < 4000; it++) {
      y.fill(0);
      m.axpby(n, 1, x, 1, y);                      // y = x + y, parallel over fixed chunks
      const s = m.sumSquares(y, n);
      if (s !== n) { console.error('iteration', it, 'sum of squares', s, '!=', n); process.exit(1); }
    }
  `);
});
