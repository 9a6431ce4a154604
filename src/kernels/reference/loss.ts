/** STUB: to be written (float64 oracle for: crossEntropyForward crossEntropyBackward). */
import type { Kernels } from '../types.js';

const todo = (name: string) => (): never => { throw new Error(`reference kernel '${name}' not written yet`); };

export const lossReference: Pick<Kernels, 'crossEntropyForward' | 'crossEntropyBackward'> = {
  crossEntropyForward: todo('crossEntropyForward'),
  crossEntropyBackward: todo('crossEntropyBackward'),
};
