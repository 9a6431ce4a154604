/** STUB: to be written (float64 oracle for: dropoutForward dropoutBackward). */
import type { Kernels } from '../types.js';

const todo = (name: string) => (): never => { throw new Error(`reference kernel '${name}' not written yet`); };

export const dropoutReference: Pick<Kernels, 'dropoutForward' | 'dropoutBackward'> = {
  dropoutForward: todo('dropoutForward'),
  dropoutBackward: todo('dropoutBackward'),
};
