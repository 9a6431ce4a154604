/** Parsing of numeric command-line options, one place for every command. */

/** Parses an integer option in [min, max]; throws naming the flag. */
export function intOpt(v: string | undefined, flag: string, min = 1, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${flag}: expected an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`}, got '${v}'`);
  }
  return n;
}

/** {@link intOpt} with `>= 1` and a default for an absent flag. */
export function intOption(v: string | undefined, flag: string, dflt: number | undefined): number | undefined {
  return v === undefined ? dflt : intOpt(v, flag);
}

/** Parses a number option (non-negative, or > 0 with `positive`); throws naming the flag. */
export function numOpt(v: string | undefined, flag: string, positive = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || (positive && n === 0)) {
    throw new Error(`${flag}: expected a ${positive ? 'positive' : 'non-negative'} number, got '${v}'`);
  }
  return n;
}

/** The distillation flags (`--hardness` in [0, 1], `--temperature` > 0) of pretrain and finetune. */
export function distillationFlags(o: { hardness?: string; temperature?: string }): { hardness?: number; temperature?: number } {
  const hardness = numOpt(o.hardness, '--hardness');
  if (hardness !== undefined && hardness > 1) throw new Error(`--hardness: expected a number in [0, 1], got '${o.hardness}'`);
  return { hardness, temperature: numOpt(o.temperature, '--temperature', true) };
}
