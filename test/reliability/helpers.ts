/** Helpers of the reliability tests: run the CLI as a child process, check its failure mode, make temp folders. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const cli = join(root, 'bin', 'mosaicbert.js');

/** A fresh temporary folder. */
export function tmp(tag: string): string {
  return mkdtempSync(join(tmpdir(), `mb-rel-${tag}-`));
}

/** Runs `mosaicbert <args>`; returns exit status, stdout and stderr. */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}):
  { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: opts.cwd ?? root,
    env: { ...process.env, ...(opts.env ?? {}) }, input: opts.input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Asserts a user error: exit code 2, a message matching `re` on stderr, and no stack trace (no "    at " frame
 * and no "internal error").
 */
export function assertUserError(r: { status: number | null; stdout: string; stderr: string }, re: RegExp): void {
  assert.equal(r.status, 2, `exit code (stderr: ${r.stderr})`);
  assert.match(r.stderr, re);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  assert.doesNotMatch(r.stderr, /internal error/);
}
