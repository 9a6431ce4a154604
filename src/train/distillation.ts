/**
 * Knowledge distillation loss, as oBERT trains its pruned students (Kurtic et al. 2022 §3; SparseML's
 * `DistillationModifier`, ../shared/docs/obert.md §2.3):
 *
 *   loss = (1 - hardness) * task + hardness * KD
 *   KD   = (T^2 / R) * sum_r KL( softmax(t_r / T) || softmax(s_r / T) )
 *
 * over the R rows of logits the task scores (classification: the batch's sequences; MLM: its masked tokens, so the
 * sum is divided by the number of distributions as the reference's `reduction="sum"` / count does), with student
 * logits s and teacher logits t of C classes. The gradient with respect to the student logits is
 *
 *   dKD / ds_r = (T / R) * (softmax(s_r / T) - softmax(t_r / T)).
 *
 * With hardness 1 the task loss drops out entirely (the recipes' setting). Sums are accumulated in float64.
 */

/** The distillation settings of a run (`hardness`, `temperature` as the recipes name them). */
export interface DistillationSettings {
  /** Weight of the KD term in [0, 1]; the task loss gets `1 - hardness`. */
  hardness: number;
  /** Softmax temperature T > 0 (2.0 downstream, 5.5 upstream in the paper's recipes). */
  temperature: number;
}

/** What a student's forward needs to add the KD term: the teacher's logits of the same rows, same layout. */
export interface DistillTarget extends DistillationSettings {
  /** `[R, C]` float32, row-major, the rows in the order of the student's logits. */
  teacherLogits: Float32Array;
}

/**
 * Checks the settings.
 * @throws Error naming `where` when hardness is not in [0, 1] or the temperature is not > 0.
 */
export function checkDistillation(s: DistillationSettings, where = 'distillation'): void {
  if (!(s.hardness >= 0 && s.hardness <= 1)) throw new Error(`${where}: hardness must be in [0, 1], got ${s.hardness}`);
  if (!(s.temperature > 0 && Number.isFinite(s.temperature))) {
    throw new Error(`${where}: temperature must be a finite number > 0, got ${s.temperature}`);
  }
}

/**
 * KD over `rows` rows of `C` logits (see the top) and, when `grad` is given, its gradient `dKD/ds` `[rows, C]`
 * (float32; the mean over rows is included, the hardness and any microbatch weight are not).
 * @returns KD (nats, already multiplied by T^2 and divided by rows); 0 when rows is 0.
 * @throws Error when an array is shorter than `rows * C`.
 */
export function distillationLoss(student: Float32Array, teacher: Float32Array, rows: number, C: number,
  temperature: number, grad?: Float32Array): number {
  const n = rows * C;
  if (student.length < n || teacher.length < n || (grad && grad.length < n)) {
    throw new Error(`distillation: logits of ${rows} rows x ${C} classes expected (student ${student.length}, ` +
      `teacher ${teacher.length}${grad ? `, gradient ${grad.length}` : ''} values)`);
  }
  if (rows === 0) return 0;
  const invT = 1 / temperature;
  const ps = new Float64Array(C), pt = new Float64Array(C);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    logSoftmax(student, o, C, invT, ps);
    logSoftmax(teacher, o, C, invT, pt);
    let kl = 0;
    for (let c = 0; c < C; c++) {
      const p = Math.exp(pt[c]);
      if (p > 0) kl += p * (pt[c] - ps[c]);
      if (grad) grad[o + c] = (temperature / rows) * (Math.exp(ps[c]) - p);
    }
    total += kl;
  }
  return total * temperature * temperature / rows;
}

/** `out[c] = x[o + c] * invT - logsumexp(x[o..o+C] * invT)` in float64. */
function logSoftmax(x: Float32Array, o: number, C: number, invT: number, out: Float64Array): void {
  let mx = -Infinity;
  for (let c = 0; c < C; c++) mx = Math.max(mx, x[o + c] * invT);
  let s = 0;
  for (let c = 0; c < C; c++) s += Math.exp(x[o + c] * invT - mx);
  const lse = mx + Math.log(s);
  for (let c = 0; c < C; c++) out[c] = x[o + c] * invT - lse;
}

/**
 * Mixes the task and KD terms of a forward: `(1 - hardness) * task + hardness * kd` (hardness 1: the task term is
 * dropped even when it is not finite, as the reference computes no hard-label loss then).
 */
export function mixedLoss(task: number, kd: number, hardness: number): number {
  return hardness === 1 ? kd : (1 - hardness) * task + hardness * kd;
}
