/**
 * The distillation teacher of a training run: any folder {@link fromPretrained} reads (MosaicBERT or classic BERT,
 * dense, sparse or INT8), loaded with the student's head and prepared for inference in fp32 (pre-packed or sparse
 * kernels), since it only ever runs forward in evaluation mode.
 */
import { fromPretrained } from '../interop/pretrained.js';
import type { Kernels } from '../kernels/types.js';
import type { TeacherModel } from './step.js';

/** What {@link loadTeacher} returns: the model and a one-line description for logs. */
export interface LoadedTeacher {
  model: TeacherModel;
  description: string;
}

/**
 * Loads a teacher for a student with `head` and `outputs` logits per row (MLM: vocab_size; classification:
 * num_labels).
 * @throws Error naming the folder when it cannot be read or its output size differs from the student's.
 */
export function loadTeacher(dir: string, head: 'mlm' | 'classification', outputs: number, kernels?: Kernels): LoadedTeacher {
  let model;
  try {
    model = fromPretrained(dir, { head, dtype: 'fp32', kernels });
  } catch (e) {
    throw new Error(`--teacher ${dir}: ${(e as Error).message}`);
  }
  const cfg = model.config as { vocab_size: number; num_labels?: number; num_hidden_layers: number; hidden_size: number };
  const have = head === 'mlm' ? cfg.vocab_size : cfg.num_labels ?? 2;
  if (have !== outputs) {
    throw new Error(`--teacher ${dir}: its ${head === 'mlm' ? 'vocab_size' : 'num_labels'} is ${have}, the student's ${outputs}`);
  }
  return { model: model as unknown as TeacherModel,
    description: `${dir} (${model.modelType}, ${cfg.num_hidden_layers} layers, hidden ${cfg.hidden_size})` };
}
