/**
 * Test-only crash injection. `MOSAICBERT_TEST_KILL_AT=<point>:<step>` makes the process SIGKILL itself when it
 * reaches `point` for that step, so a test can crash a real `pretrain` child at an exact moment (half-way through a
 * checkpoint write, or through an old checkpoint's removal) and check that `--resume` recovers bit-identically.
 * Unset (always, outside tests) it does nothing.
 */

/** The named moments where a crash can be injected. */
export type FaultPoint = 'checkpoint-write' | 'checkpoint-remove';

const spec = process.env.MOSAICBERT_TEST_KILL_AT;

/** SIGKILLs this process when `MOSAICBERT_TEST_KILL_AT` is `<point>:<step>` (see the file comment). */
export function faultPoint(point: FaultPoint, step: number): void {
  if (spec && spec === `${point}:${step}`) process.kill(process.pid, 'SIGKILL');
}
