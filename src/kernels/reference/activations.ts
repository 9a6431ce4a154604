/** STUB: to be written (float64 oracle for: geluForward geluBackward gegluForward gegluBackward tanhForward tanhBackward). */
import type { Kernels } from '../types.js';

const todo = (name: string) => (): never => { throw new Error(`reference kernel '${name}' not written yet`); };

export const activationsReference: Pick<Kernels, 'geluForward' | 'geluBackward' | 'gegluForward' | 'gegluBackward' | 'tanhForward' | 'tanhBackward'> = {
  geluForward: todo('geluForward'),
  geluBackward: todo('geluBackward'),
  gegluForward: todo('gegluForward'),
  gegluBackward: todo('gegluBackward'),
  tanhForward: todo('tanhForward'),
  tanhBackward: todo('tanhBackward'),
};
