/**
 * The reference {@link Kernels}: plain TypeScript, every intermediate in float64, inputs and outputs float32 (so it
 * is a drop-in replacement for the native kernels). The test oracle; one file per kernel family.
 */
import type { Kernels } from '../types.js';
import { gemmReference } from './gemm.js';
import { attentionReference } from './attention.js';
import { layerNormReference } from './layernorm.js';
import { activationsReference } from './activations.js';
import { dropoutReference } from './dropout.js';
import { embeddingReference } from './embedding.js';
import { lossReference } from './loss.js';
import { rowsReference } from './rows.js';
import { adamwReference } from './adamw.js';

export const referenceKernels: Kernels = {
  name: 'reference',
  ...gemmReference,
  ...attentionReference,
  ...layerNormReference,
  ...activationsReference,
  ...dropoutReference,
  ...embeddingReference,
  ...lossReference,
  ...rowsReference,
  ...adamwReference,
};
