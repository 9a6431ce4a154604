/**
 * The thread pool under stress, in a child process with a timeout so that a hang fails the test instead of
 * blocking the suite: (1) resizing right after creation and back and forth (a worker that had not yet read the
 * generation used to miss stop() and hang join), (2) thousands of back-to-back tiny parallel jobs whose results
 * are checked (a late worker used to be able to take a task index of the next job), (3) failures inside pool
 * tasks (pool_child.ts runs the scenarios): a task that throws, on the calling thread or a worker, becomes a JS
 * Error naming the binding, the task and the thread, and the pool keeps every thread and computes correctly
 * afterwards (a throw on a worker used to call std::terminate).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

import type { AllocsReport, TasksReport } from './pool_child.js';

const here = dirname(fileURLToPath(import.meta.url));
const nativeJs = join(here, '..', '..', 'src', 'kernels', 'native.js');
const childJs = join(here, 'pool_child.js');

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

/** Runs a pool_child.ts scenario and returns the JSON it printed (its last stdout line). */
function runScenario<T>(...args: string[]): T {
  const r = spawnSync(process.execPath, [childJs, ...args], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.signal, null, `child killed by ${r.signal} (hang or crash?)\n${r.stdout}${r.stderr}`);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as T;
}

/** The part of a native error message that names the task and thread: [task index, 'calling' | 'worker']. */
function taskAndThread(message: string, binding: string, cause: string, ntasks: string): [number, string] {
  const re = new RegExp(`^mosaicbert native ${binding}: ${cause} in task (\\d+) of ${ntasks} on ` +
    '(the calling thread|pool worker 1)$');
  const hit = re.exec(message);
  assert.ok(hit, `message '${message}' does not match ${re}`);
  return [Number(hit[1]), hit[2] === 'the calling thread' ? 'calling' : 'worker'];
}

test('a throwing pool task is a JS Error naming binding, task and thread; the pool stays whole (1 and 2 threads)', () => {
  const causes: Record<string, string> = {
    bad_alloc: 'out of memory \\(bad_alloc\\)', scratch: 'out of memory \\(bad_alloc\\)',
    error: 'injected task failure', nonstd: 'unknown C\\+\\+ exception',
  };
  for (const threads of [1, 2]) {
    const rep = runScenario<TasksReport>('tasks', String(threads));
    assert.equal(rep.threads, threads);
    assert.equal(rep.cases.length, 16);
    for (const c of rep.cases) {
      const label = `${threads} thread(s), ${c.kind} at ${c.at}`;
      // Every thread still takes part in the next job (with 2 threads the hook waits for both, so a dead worker
      // shows as an error in the child).
      assert.deepEqual(c.after, { tasks: 64, threads }, label);
      if (threads === 1 && c.at === 'worker') {
        assert.equal(c.message, null, `${label}: no worker, nothing may throw`);
        continue;
      }
      assert.ok(c.message !== null, `${label}: did not throw`);
      const [task, thread] = taskAndThread(c.message, '_testPoolThrow', causes[c.kind], '64');
      if (typeof c.at === 'number') assert.equal(task, c.at, label);
      if (threads === 1 || c.at === 'caller') assert.equal(thread, 'calling', label);
      if (c.at === 'worker') assert.equal(thread, 'worker', label);
      if (threads === 1 && c.at === 'every') assert.equal(task, 0, label);
    }
    assert.ok(rep.axpbyOk, `${threads} thread(s): axpby/sumSquares wrong after the failures`);
  }
});

test('an allocation failure in sgemm or attention is a JS Error naming the kernel; the retry is bit-identical to ' +
  'a process that never failed (1 and 2 threads)', () => {
  for (const threads of [1, 2]) {
    const clean = runScenario<AllocsReport>('allocs', String(threads), '0');
    const failed = runScenario<AllocsReport>('allocs', String(threads), '1');
    assert.deepEqual(clean.errors, []);
    const calls = Object.keys(clean.digests);
    assert.ok(calls.length >= 3, `calls: ${calls}`);  // sgemm on each kernel path, attention forward and backward
    assert.deepEqual(failed.errors.map((e) => e.call), calls);
    for (const e of failed.errors) {
      const label = `${threads} thread(s), ${e.call}`;
      assert.ok(e.message !== null, `${label}: the injected allocation failure did not fire`);
      const [, thread] = taskAndThread(e.message, e.call.split('/')[0], 'out of memory \\(bad_alloc\\)', '\\d+');
      if (threads === 1) assert.equal(thread, 'calling', label);
      assert.equal(e.pending, 0, `${label}: the injected failure was not consumed`);
    }
    // Same bits as the clean process (kernels are deterministic for a given thread count), and sgemm exact.
    assert.deepEqual(failed.digests, clean.digests, `${threads} thread(s)`);
    for (const rep of [clean, failed]) {
      for (const [path, err] of Object.entries(rep.sgemmMaxErr)) assert.equal(err, 0, `sgemm ${path}: max error`);
    }
  }
});
