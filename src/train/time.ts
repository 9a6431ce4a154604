/**
 * Composer-style time strings (`286720000sp`, `2000ba`, `0.06dur`, `1ep`, `5000000tok`) and this project's
 * wall-clock extension (`90s`, `10min`, `1.5h`), plus their conversion to batches.
 *
 * Units: `ba` optimizer steps (global batches), `sp` samples, `tok` non-padding tokens, `ep` epochs of the train
 * split, `dur` a fraction of `max_duration` (only for t_warmup / intervals), `s`/`min`/`h` seconds of training
 * wall time (only for max_duration; converted once to batches by timing a few steps, see trainer.ts).
 */

/** A time unit. */
export type TimeUnit = 'ba' | 'sp' | 'tok' | 'ep' | 'dur' | 's' | 'min' | 'h';

/** A parsed time string. */
export interface Time {
  value: number;
  unit: TimeUnit;
}

const RE = /^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*(ba|sp|tok|ep|dur|s|min|h)\s*$/i;

/**
 * Parses `"2000ba"`, `"0.06dur"`, `"10min"`... A bare integer counts as epochs, as Composer reads an int.
 * @param key the config key, for the error message.
 * @throws Error naming `key` and the accepted forms when the string is not a time.
 */
export function parseTime(s: string | number, key: string): Time {
  if (typeof s === 'number') {
    if (!(Number.isInteger(s) && s >= 0)) throw new Error(`${key}: expected a time such as '2000ba', got ${s}`);
    return { value: s, unit: 'ep' };
  }
  const m = RE.exec(s);
  if (!m) {
    throw new Error(`${key}: expected a time like '2000ba', '286720000sp', '5000000tok', '1ep', '0.06dur' or ` +
      `'10min', got ${JSON.stringify(s)}`);
  }
  const value = Number(m[1]);
  const unit = m[2].toLowerCase() as TimeUnit;
  if (!(value >= 0) || !Number.isFinite(value)) throw new Error(`${key}: the value must be >= 0, got ${JSON.stringify(s)}`);
  if (unit === 'dur' && value > 1) throw new Error(`${key}: a 'dur' fraction must be in [0, 1], got ${JSON.stringify(s)}`);
  return { value, unit };
}

/** Seconds of a wall-clock time, or null when the unit is not s/min/h. */
export function wallSeconds(t: Time): number | null {
  if (t.unit === 's') return t.value;
  if (t.unit === 'min') return t.value * 60;
  if (t.unit === 'h') return t.value * 3600;
  return null;
}

/** What converting a time to batches needs. */
export interface BatchContext {
  /** Samples per optimizer step. */
  globalBatchSize: number;
  /** Batches in one epoch of the train split (drop_last). */
  batchesPerEpoch: number;
  /** max_duration in batches, for `dur` fractions (absent when max_duration is in tok). */
  totalBatches?: number;
}

/**
 * A time in whole batches: `ba` as is, `sp` rounded up to whole batches, `ep` times batches per epoch, `dur` a
 * fraction of totalBatches (rounded to nearest, as Composer converts). `tok` and wall-clock times cannot be
 * converted (they are not fixed multiples of a batch).
 * @throws Error naming `key` for an unconvertible unit.
 */
export function toBatches(t: Time, ctx: BatchContext, key: string): number {
  switch (t.unit) {
    case 'ba': return Math.round(t.value);
    case 'sp': return Math.ceil(t.value / ctx.globalBatchSize);
    case 'ep': return Math.round(t.value * ctx.batchesPerEpoch);
    case 'dur':
      if (ctx.totalBatches === undefined) throw new Error(`${key}: '${t.value}dur' needs max_duration in ba, sp or ep`);
      return Math.round(t.value * ctx.totalBatches);
    default:
      throw new Error(`${key}: '${t.value}${t.unit}' cannot be used here; use ba, sp, ep or dur`);
  }
}

/**
 * A wall-clock duration for people: `1h06m` from an hour up, else `5m59s` (`0m07s` under a minute); `?` for a
 * negative or non-finite value (an ETA not known yet).
 * @param s seconds.
 */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), x = Math.floor(s % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(x).padStart(2, '0')}s`;
}
