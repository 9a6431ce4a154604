/** STUB: to be written (float64 oracle for: embeddingForward embeddingBackward). */
import type { Kernels } from '../types.js';

const todo = (name: string) => (): never => { throw new Error(`reference kernel '${name}' not written yet`); };

export const embeddingReference: Pick<Kernels, 'embeddingForward' | 'embeddingBackward'> = {
  embeddingForward: todo('embeddingForward'),
  embeddingBackward: todo('embeddingBackward'),
};
