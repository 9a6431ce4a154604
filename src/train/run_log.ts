/**
 * The run log `log.jsonl` (one JSON event a line, appended by the trainer) after a crash: a kill in the middle of
 * an append leaves a torn last line without its newline, which the resumed run's first record would be glued to.
 * {@link repairRunLog} cuts it off before the run appends again.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';

/** What {@link repairRunLog} did. */
export interface RunLogRepair {
  /** The torn last line that was dropped (its text), or null when the log was intact. */
  dropped: string | null;
  /** 1-based line number of the dropped line (0 when none). */
  line: number;
  /** A message for the user naming the file, line and what was dropped (null when nothing was done). */
  message: string | null;
}

/**
 * Drops a torn last line of a JSONL log: the bytes after the last newline when they are not a complete JSON value
 * (a complete one only missing its newline gets the newline). The file is truncated in place and fsynced.
 * Earlier lines are not checked: they were each written whole before the next was started.
 * @throws the underlying fs error (naming the file) when it cannot be read or truncated.
 */
export function repairRunLog(path: string): RunLogRepair {
  const none: RunLogRepair = { dropped: null, line: 0, message: null };
  if (!existsSync(path)) return none;
  let fd: number;
  try { fd = openSync(path, 'r+'); } catch (e) { throw new Error(`${path}: cannot open to repair (${(e as Error).message})`); }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return none;
    const buf = Buffer.alloc(size);
    readSync(fd, buf, 0, size, 0);
    if (buf[size - 1] === 0x0a) return none;
    const lastNl = buf.lastIndexOf(0x0a);
    const tail = buf.subarray(lastNl + 1).toString('utf8');
    let line = 1;
    for (let i = 0; i < lastNl; i++) if (buf[i] === 0x0a) line++;
    if (lastNl >= 0) line++;
    let complete = false;
    try { JSON.parse(tail); complete = true; } catch { /* torn */ }
    if (complete) {
      writeSync(fd, '\n', size);
      fsyncSync(fd);
      return none;
    }
    ftruncateSync(fd, lastNl + 1);
    fsyncSync(fd);
    const shown = tail.length > 80 ? tail.slice(0, 77) + '...' : tail;
    return { dropped: tail, line, message: `${path}:${line}: dropped a torn last line (${size - lastNl - 1} bytes, ` +
      `an interrupted write): ${JSON.stringify(shown)}` };
  } finally {
    closeSync(fd);
  }
}
