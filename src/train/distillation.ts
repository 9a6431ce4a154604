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
 * With hardness 1 the task loss drops out entirely (the recipes' setting). Sums are accumulated in float64 (the
 * `distillationLoss` kernel, native/kernels/loss/distillation.cc).
 */
import type { Kernels } from '../kernels/types.js';

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
 * KD over `rows` rows of `C` logits (see the top) by the `distillationLoss` kernel, and, when `grad` is given, its
 * gradient `dKD/ds` `[rows, C]` (float32; the mean over rows is included, the hardness and any microbatch weight are
 * not).
 * @returns KD (nats, already multiplied by T^2 and divided by rows); 0 when rows is 0.
 * @throws Error when an array is shorter than `rows * C`.
 */
export function distillationLoss(k: Pick<Kernels, 'distillationLoss'>, student: Float32Array, teacher: Float32Array,
  rows: number, C: number, temperature: number, grad?: Float32Array): number {
  const n = rows * C;
  if (student.length < n || teacher.length < n || (grad && grad.length < n)) {
    throw new Error(`distillation: logits of ${rows} rows x ${C} classes expected (student ${student.length}, ` +
      `teacher ${teacher.length}${grad ? `, gradient ${grad.length}` : ''} values)`);
  }
  if (rows === 0) return 0;
  const sum = k.distillationLoss(student, teacher, rows, C, 1 / temperature, grad ?? null, temperature / rows);
  return sum * temperature * temperature / rows;
}

/**
 * Mixes the task and KD terms of a forward: `(1 - hardness) * task + hardness * kd` (hardness 1: the task term is
 * dropped even when it is not finite, as the reference computes no hard-label loss then).
 */
export function mixedLoss(task: number, kd: number, hardness: number): number {
  return hardness === 1 ? kd : (1 - hardness) * task + hardness * kd;
}
