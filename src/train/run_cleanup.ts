/**
 * What a failed `pretrain` leaves behind: a run folder it created holding nothing worth keeping (no complete
 * checkpoint) is removed, so that a typo or a bad input does not leave empty `runs/<name>/` folders that then block
 * the next run ("already holds checkpoints") or confuse `report`. A run folder that existed before, or that holds a
 * complete checkpoint (progress a `--resume` can continue), is kept; only incomplete checkpoint folders go.
 */
import { existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { listCheckpoints, removeIncompleteCheckpoints } from './checkpoint.js';

/**
 * Cleans up after a failed run (see the file comment).
 * @param createdRunDir true when this process created `runDir` (it did not exist before the run started).
 * @returns the paths removed.
 */
export function cleanUpFailedRun(runDir: string, checkpointDir: string, createdRunDir: boolean): string[] {
  const removed = removeIncompleteCheckpoints(checkpointDir);
  if (createdRunDir && existsSync(runDir) && listCheckpoints(checkpointDir).length === 0) {
    rmSync(runDir, { recursive: true, force: true });
    removed.push(runDir);
  }
  return removed;
}

/** The outermost folder on the way to `path` that does not exist yet (what creating `path` would create), or null. */
export function outermostMissing(path: string): string | null {
  let p = resolve(path), top: string | null = null;
  while (!existsSync(p)) {
    top = p;
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  return top;
}

/**
 * Removes `from` and its parents while they are empty folders, stopping after `top` (so only folders a failed step
 * created go, and only when nothing else was put in them). No-op when `top` is null.
 */
export function removeEmptyFoldersUpTo(from: string, top: string | null): void {
  if (!top) return;
  const stop = resolve(top);
  for (let p = resolve(from); p.startsWith(stop); p = dirname(p)) {
    if (!existsSync(p)) continue;
    if (readdirSync(p).length) return;
    rmdirSync(p);
    if (p === stop) return;
  }
}
