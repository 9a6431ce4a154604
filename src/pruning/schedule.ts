/**
 * The gradual pruning schedule of oBERT and GMP (Zhu & Gupta 2017, "To prune, or not to prune"; SparseML's
 * `interpolate` as the OBS/GMP modifiers call it, ../shared/docs/obert.md §2.1):
 *
 *   s(t) = s_i + (s_f - s_i) * (1 - (1 - x)^3),   x = (t - start) / (end - start) clamped to [0, 1]   (cubic)
 *   s(t) = s_i + (s_f - s_i) * x                                                                    (linear)
 *
 * evaluated at the pruning steps start, start + f, start + 2f, ... up to end (f = update_frequency). Time is in
 * epochs in the recipes; any unit works as long as all four numbers share it.
 */

/** The interpolation functions the recipes use (`inter_func`). */
export type InterFunc = 'cubic' | 'linear';

export interface GradualSchedule {
  initSparsity: number;
  finalSparsity: number;
  start: number;
  end: number;
  /** Time between pruning steps (> 0). */
  updateFrequency: number;
  interFunc: InterFunc;
}

/**
 * Target sparsity at time t (before start: init_sparsity; after end: final_sparsity).
 * @throws Error when end <= start (unless both are equal: a single step at final sparsity).
 */
export function sparsityAt(s: GradualSchedule, t: number): number {
  if (s.end === s.start) return t >= s.end ? s.finalSparsity : s.initSparsity;
  if (!(s.end > s.start)) throw new Error(`schedule: end (${s.end}) must be >= start (${s.start})`);
  const x = Math.min(1, Math.max(0, (t - s.start) / (s.end - s.start)));
  const f = s.interFunc === 'cubic' ? 1 - (1 - x) ** 3 : x;
  return s.initSparsity + (s.finalSparsity - s.initSparsity) * f;
}

/**
 * The pruning steps: start, start + f, ..., and end (a last step shorter than f when (end - start) is not a
 * multiple of f). A step within 1e-9·f of end counts as end.
 * @throws Error when update_frequency is not > 0.
 */
export function pruningSteps(s: Pick<GradualSchedule, 'start' | 'end' | 'updateFrequency'>): number[] {
  if (!(s.updateFrequency > 0)) throw new Error(`schedule: update_frequency must be > 0, got ${s.updateFrequency}`);
  const out: number[] = [];
  for (let i = 0; ; i++) {
    const t = s.start + i * s.updateFrequency;
    if (t >= s.end - 1e-9 * s.updateFrequency) break;
    out.push(t);
  }
  out.push(s.end);
  return out;
}

/** `[time, sparsity]` at every pruning step. */
export function scheduleTable(s: GradualSchedule): Array<[number, number]> {
  return pruningSteps(s).map((t) => [t, sparsityAt(s, t)]);
}
