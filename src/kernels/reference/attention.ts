/** STUB: to be written (float64 oracle for: attentionForward attentionBackward). */
import type { Kernels } from '../types.js';

const todo = (name: string) => (): never => { throw new Error(`reference kernel '${name}' not written yet`); };

export const attentionReference: Pick<Kernels, 'attentionForward' | 'attentionBackward'> = {
  attentionForward: todo('attentionForward'),
  attentionBackward: todo('attentionBackward'),
};
