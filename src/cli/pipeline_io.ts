/**
 * Input and output of the pipeline commands: inputs from TEXT arguments or a file (one per line, blank lines
 * skipped), results as JSONL (one JSON object per input, in input order), errors naming the file and line.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { PipelineInputError } from '../pipelines/common.js';

/** One input and where it came from ("argument 2", "in.txt:7"). */
export interface SourcedInput {
  text: string;
  where: string;
  /** Read from --file (else a TEXT argument). */
  fromFile: boolean;
}

/** Reads inputs from arguments and/or a file. Throws when there are none. */
export function readInputs(args: string[], file: string | undefined): SourcedInput[] {
  const out: SourcedInput[] = args.map((text, i) => ({ text, where: `argument ${i + 1}`, fromFile: false }));
  if (file) {
    let text: string;
    try { text = readFileSync(file === '-' ? 0 : file, 'utf8'); } catch (e) { throw new Error(`${file}: cannot read (${(e as Error).message})`); }
    text.split('\n').forEach((line, i) => {
      const l = line.replace(/\r$/, '');
      if (l.trim()) out.push({ text: l, where: `${file === '-' ? 'stdin' : file}:${i + 1}`, fromFile: true });
    });
  }
  if (!out.length) throw new Error('no inputs: give TEXT arguments or --file F');
  return out;
}

/** A JSONL sink on stdout or a file. */
export function jsonlWriter(out: string | undefined): { write: (o: unknown) => void; close: () => Promise<void> } {
  if (!out || out === '-') {
    return { write: (o) => process.stdout.write(JSON.stringify(o) + '\n'), close: async () => {} };
  }
  const s = createWriteStream(out);
  return {
    write: (o) => s.write(JSON.stringify(o) + '\n'),
    close: () => new Promise<void>((res, rej) => { s.on('error', rej); s.end(() => res()); }),
  };
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

/** Parses a positive integer option. */
export function intOption(v: string | undefined, flag: string, dflt: number | undefined): number | undefined {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got '${v}'`);
  return n;
}
