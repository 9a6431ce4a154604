/**
 * How the command line reports a failure. A user error (bad flag, file, key or input: every error this project
 * throws on purpose, plus Node's file-system errors) prints one line, `mosaicbert: <message>`, and exits 2. An
 * internal error (a bug: TypeError, RangeError, ReferenceError, an assertion, a non-Error throw) prints one line and
 * a hint to rerun with `--debug`, and exits 1. With `--debug` both print the stack trace.
 */

/** Error classes that signal a bug in this program rather than a problem with what the user gave it. */
const INTERNAL = new Set(['TypeError', 'RangeError', 'ReferenceError', 'EvalError', 'AssertionError', 'InternalError']);

/** True when `e` is a bug rather than a user error (see the file comment). */
export function isInternalError(e: unknown): boolean {
  if (!(e instanceof Error)) return true;
  if ((e as NodeJS.ErrnoException).code && typeof (e as NodeJS.ErrnoException).syscall === 'string') return false;   // fs/OS errors
  return INTERNAL.has(e.name) || INTERNAL.has(e.constructor?.name ?? '');
}

/**
 * Prints `e` to stderr as described in the file comment.
 * @returns the exit code: 2 for a user error, 1 for an internal one.
 */
export function reportCliError(e: unknown, debug: boolean): number {
  const internal = isInternalError(e);
  const msg = e instanceof Error ? e.message : String(e);
  if (debug && e instanceof Error && e.stack) {
    console.error(`mosaicbert: ${internal ? 'internal error: ' : ''}${e.stack}`);
  } else if (internal) {
    console.error(`mosaicbert: internal error: ${msg.split('\n')[0]}`);
    console.error('mosaicbert: this is a bug; rerun with --debug for the stack trace, and report it');
  } else {
    console.error(`mosaicbert: ${msg}`);
  }
  return internal ? 1 : 2;
}

/** True when the command line asks for `--debug` (a global flag, accepted anywhere on the line). */
export function debugRequested(argv: string[] = process.argv): boolean {
  return argv.slice(2).includes('--debug') || process.env.MOSAICBERT_DEBUG === '1';
}

/**
 * Routes uncaught exceptions and unhandled rejections (e.g. an 'error' event no one listens to) through
 * {@link reportCliError} instead of Node's default stack dump.
 */
export function installCliErrorHandlers(debug: boolean): void {
  const die = (e: unknown) => { process.exitCode = reportCliError(e, debug); process.exit(); };
  process.on('uncaughtException', die);
  process.on('unhandledRejection', die);
}
