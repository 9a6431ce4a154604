/**
 * Input and output of the pipeline commands: inputs from TEXT arguments or a file (one per line, blank lines
 * skipped), results as JSONL (one JSON object per input, in input order), errors naming the file and line.
 */
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { assertOutputFilePath } from '../data/atomic.js';
import { basename, dirname, join, resolve } from 'node:path';
import { PipelineInputError, type PipelineOptions } from '../pipelines/common.js';
import type { Command } from 'commander';
import { intOption } from './options.js';
import { decodeUtf8, type EncodingErrors } from '../data/utf8.js';

/** One input and where it came from ("argument 2", "in.txt:7"). */
export interface SourcedInput {
  text: string;
  where: string;
  /** Read from --file (else a TEXT argument). */
  fromFile: boolean;
}

/**
 * Reads inputs from arguments and/or a file (UTF-8: invalid bytes are an error naming the file and byte offset
 * unless `encodingErrors` is 'replace').
 * @throws Error when there are none, or the file cannot be read or decoded.
 */
export function readInputs(args: string[], file: string | undefined, encodingErrors: EncodingErrors = 'strict'): SourcedInput[] {
  const out: SourcedInput[] = args.map((text, i) => ({ text, where: `argument ${i + 1}`, fromFile: false }));
  if (file) {
    const name = file === '-' ? 'stdin' : file;
    let bytes: Buffer;
    try { bytes = readFileSync(file === '-' ? 0 : file); } catch (e) { throw new Error(`${file}: cannot read (${(e as Error).message})`); }
    decodeUtf8(bytes, name, encodingErrors).split('\n').forEach((line, i) => {
      const l = line.replace(/\r$/, '');
      if (l.trim()) out.push({ text: l, where: `${name}:${i + 1}`, fromFile: true });
    });
  }
  if (!out.length) throw new Error('no inputs: give TEXT arguments or --file F');
  return out;
}

/** A JSONL sink: `write` one object a line, then `commit` (the file appears) or `abort` (nothing changes). */
export interface JsonlSink {
  write: (o: unknown) => void;
  /** Flushes; for a file: fsyncs the temporary file and renames it over the target. */
  commit: () => void;
  /** For a file: removes the temporary file, leaving any previous target untouched. No-op on stdout. */
  abort: () => void;
}

/**
 * A JSONL sink on stdout (`out` absent or '-') or a file. A file is written to a temporary name beside it
 * (`<out>.tmp-<pid>`) and renamed over `out` on {@link JsonlSink.commit}, so a failed run leaves the previous file
 * as it was and a reader never sees a half-written file.
 * @throws Error naming `--out` and the path when the target is a folder or its folder does not exist or is not
 *   writable (checked here, before any work is done).
 */
export function jsonlWriter(out: string | undefined): JsonlSink {
  if (!out || out === '-') {
    return { write: (o) => process.stdout.write(JSON.stringify(o) + '\n'), commit: () => {}, abort: () => {} };
  }
  const target = resolve(out), dir = dirname(target);
  assertOutputFilePath(target, `--out ${out}`);
  removeStaleTemporaries(target);
  const tmp = `${target}.tmp-${process.pid}`;
  let fd: number;
  try { fd = openSync(tmp, 'w'); } catch (e) { throw new Error(`--out ${out}: cannot create a file in ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`); }
  let open = true;
  // Ctrl-C / SIGTERM while writing: remove the temporary file (the target stays as it was), exit as the signal would.
  const onSignal = (sig: NodeJS.Signals) => { abort(); process.exit(sig === 'SIGINT' ? 130 : 143); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const close = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (open) { open = false; closeSync(fd); }
  };
  const abort = () => { close(); rmSync(tmp, { force: true }); };
  return {
    write: (o) => { writeSync(fd, JSON.stringify(o) + '\n'); },
    commit: () => {
      try {
        fsyncSync(fd);
        close();
        renameSync(tmp, target);
      } catch (e) {
        close();
        rmSync(tmp, { force: true });
        throw new Error(`--out ${out}: cannot write (${(e as Error).message})`);
      }
    },
    abort,
  };
}

/** True when a process with this id is running (signal 0 probes without signalling). */
function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Removes `<target>.tmp-<pid>` files left by a process that was killed (-9) while writing `target`. */
function removeStaleTemporaries(target: string): void {
  const name = basename(target);
  for (const f of readdirSync(dirname(target))) {
    const m = f.startsWith(`${name}.tmp-`) ? /^(\d+)$/.exec(f.slice(name.length + 5)) : null;
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) rmSync(join(dirname(target), f), { force: true });
  }
}

/**
 * Runs `body` with a {@link jsonlWriter} on `out`: commits when it resolves, aborts (previous file untouched) when
 * it throws, and rethrows.
 */
export async function withJsonlOutput(out: string | undefined, body: (write: (o: unknown) => void) => Promise<void>): Promise<void> {
  const w = jsonlWriter(out);
  try {
    await body(w.write);
  } catch (e) {
    w.abort();
    throw e;
  }
  w.commit();
}

/**
 * Runs `fn` over the inputs in groups of `group`, mapping a {@link PipelineInputError} to the input's origin.
 */
export async function inGroups<T>(inputs: SourcedInput[], group: number,
  fn: (batch: SourcedInput[]) => Promise<T[]>, emit: (input: SourcedInput, result: T) => void): Promise<void> {
  for (let a = 0; a < inputs.length; a += group) {
    const batch = inputs.slice(a, a + group);
    let res: T[];
    try {
      res = await fn(batch);
    } catch (e) {
      if (e instanceof PipelineInputError) throw new Error(`${batch[e.index].where}: ${e.message.replace(/^input \d+: /, '')}`);
      throw e;
    }
    batch.forEach((inp, i) => emit(inp, res[i]));
  }
}

export { intOption };

/** Validates `--dtype`. @throws Error naming the flag and the accepted values. */
export function parseDtype(v: string): 'fp32' | 'q8' {
  if (v !== 'fp32' && v !== 'q8') throw new Error(`--dtype: expected fp32 or q8, got '${v}'`);
  return v;
}

/** The flags every pipeline command (`fill-mask`, `embed`, `classify`) shares. */
export interface PipelineCliOptions {
  model: string; file?: string; maxLength?: string; batchSize: string; out?: string; encodingErrors: string;
  allowMissingWeights: boolean; dtype?: string;
}

/** Adds the shared pipeline flags to a command (after its own). */
export function addPipelineOptions(cmd: Command): Command {
  return cmd
    .option('--max-length <n>', 'truncate inputs to this many tokens (default: alibi_starting_size, or max_position_embeddings for classic BERT)')
    .option('--batch-size <n>', 'inputs per pipeline call', '32')
    .option('--out <file>', 'JSONL output (default stdout); written to a temporary file and renamed when every input succeeded')
    .option('--encoding-errors <mode>', "--file bytes that are not UTF-8: 'strict' (an error naming the byte offset) or 'replace' (U+FFFD)", 'strict')
    .option('--allow-missing-weights', 'load a model folder that lacks encoder/embedding weights (randomly initialised, with a warning)', false)
    .option('--dtype <dtype>', 'fp32 (weights pre-packed; sparse kernels for pruned weights) or q8 (INT8 projections); default: fp32, or int8 for a quantized folder');
}

/** The pipeline construction options the shared flags give. */
export function pipelineOptionsOf(o: PipelineCliOptions): PipelineOptions {
  return { max_length: intOption(o.maxLength, '--max-length', undefined), load: { allowMissingWeights: o.allowMissingWeights },
    dtype: o.dtype === undefined ? undefined : parseDtype(o.dtype) };
}
