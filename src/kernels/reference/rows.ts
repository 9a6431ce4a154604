/** STUB: to be written (float64 oracle for: gatherRows scatterRows scatterAddRows axpby sumSquares). */
import type { Kernels } from '../types.js';

const todo = (name: string) => (): never => { throw new Error(`reference kernel '${name}' not written yet`); };

export const rowsReference: Pick<Kernels, 'gatherRows' | 'scatterRows' | 'scatterAddRows' | 'axpby' | 'sumSquares'> = {
  gatherRows: todo('gatherRows'),
  scatterRows: todo('scatterRows'),
  scatterAddRows: todo('scatterAddRows'),
  axpby: todo('axpby'),
  sumSquares: todo('sumSquares'),
};
