/** STUB: to be written (float64 oracle for: layerNormForward layerNormBackward). */
import type { Kernels } from '../types.js';

const todo = (name: string) => (): never => { throw new Error(`reference kernel '${name}' not written yet`); };

export const layerNormReference: Pick<Kernels, 'layerNormForward' | 'layerNormBackward'> = {
  layerNormForward: todo('layerNormForward'),
  layerNormBackward: todo('layerNormBackward'),
};
