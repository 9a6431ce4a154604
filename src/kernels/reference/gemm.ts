/** STUB: to be written (float64 oracle for: sgemm addBias biasGrad). */
import type { Kernels } from '../types.js';

const todo = (name: string) => (): never => { throw new Error(`reference kernel '${name}' not written yet`); };

export const gemmReference: Pick<Kernels, 'sgemm' | 'addBias' | 'biasGrad'> = {
  sgemm: todo('sgemm'),
  addBias: todo('addBias'),
  biasGrad: todo('biasGrad'),
};
