/** STUB: to be written (float64 oracle for: adamwStep). */
import type { Kernels } from '../types.js';

const todo = (name: string) => (): never => { throw new Error(`reference kernel '${name}' not written yet`); };

export const adamwReference: Pick<Kernels, 'adamwStep'> = {
  adamwStep: todo('adamwStep'),
};
