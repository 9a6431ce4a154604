/**
 * What a failed `pretrain` leaves behind: a run folder it created holding nothing worth keeping (no complete
 * checkpoint) is removed, so that a typo or a bad input does not leave empty `runs/<name>/` folders that then block
 * the next run ("already holds checkpoints") or confuse `report`. A run folder that existed before, or that holds a
 * complete checkpoint (progress a `--resume` can continue), is kept; only incomplete checkpoint folders go.
 */
import { existsSync, rmSync } from 'node:fs';
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
