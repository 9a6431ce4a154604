/** Atomic file writes: write a temporary file beside the target, fsync it, then rename it over the target. */
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

let counter = 0;

/**
 * Writes `data` to `path` so that readers see either the old file or the whole new one, never a partial file.
 * @throws the underlying fs error (the temporary file is removed).
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}-${counter++}`;
  try {
    writeFileSynced(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Writes `data` (a string as UTF-8) to `path`, creating or truncating it, and fsyncs it before returning. Not atomic
 * by itself: callers write to a temporary name and rename (see {@link writeFileAtomic}, `train/checkpoint.ts`).
 * @throws the underlying fs error.
 */
export function writeFileSynced(path: string, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const fd = openSync(path, 'w');
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Checks that `path` can be an output file before any work is done: it is not a folder and its folder exists.
 * @param label how the user named it (e.g. `--out out.jsonl`), for the message.
 * @throws Error naming `label` and the missing folder, or saying the path is a folder.
 */
export function assertOutputFilePath(path: string, label: string): void {
  const target = resolve(path);
  if (existsSync(target) && statSync(target).isDirectory()) throw new Error(`${label}: is a folder, expected a file path`);
  const dir = dirname(target);
  if (!existsSync(dir)) throw new Error(`${label}: the folder ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new Error(`${label}: ${dir} is not a folder`);
}
