/**
 * Composer's `LinearWithWarmupScheduler` (`linear_decay_with_warmup`; the reference's `yamls/main/mosaic-bert-base-uncased.yaml` as Composer runs it): the factor that
 * multiplies the peak learning rate, evaluated at time `t` = units elapsed before the step (the first step has
 * t = 0). With warmup `tw` and duration `T` (same unit):
 *   t < tw:  t / tw                                   (so the first step's lr is 0, as in Composer)
 *   t >= tw: 1 + (alpha_f - 1) * min(1, (t - tw) / (T - tw))
 * alpha_i is 1 (Composer's default). The reference: tw = 0.06 T, alpha_f = 0.02.
 */

/**
 * Schedule factor in [min(alpha_f, 0), 1].
 * @param t elapsed time in the schedule's unit (batches, or tokens when max_duration is in tok), >= 0.
 * @param tw warmup length, same unit, >= 0.
 * @param T total duration, same unit, > 0.
 * @param alphaF final factor at t = T.
 */
export function linearDecayWithWarmup(t: number, tw: number, T: number, alphaF: number): number {
  if (t < tw) return t / tw;
  if (T <= tw) return alphaF;
  const frac = Math.min(1, Math.max(0, (t - tw) / (T - tw)));
  return 1 + (alphaF - 1) * frac;
}
