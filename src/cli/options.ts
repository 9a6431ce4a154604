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
