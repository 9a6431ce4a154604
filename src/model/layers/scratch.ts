/**
 * Gradient buffers of the backward pass that no layer keeps after it returns: one set per model, shared by every
 * layer (a layer's backward is done before the next one starts). `dz`, `dh1` `[n, H]`, `dy` `[n, I]`, `dx`
 * `[n, 2I]` (feed-forward); `ds1` `[n, H]`, `dctx` `[nnz, H]`, `dctxSub` `[n, H]`, `dqkv` `[nnz, 3H]` (attention);
 * `dhA` / `dhB` `[nnz, H]` a layer's input gradient, alternating across layers; `demb` `[nnz, H]` (embeddings).
 */
import type { ActivationArena } from './buffers.js';

export const backwardScratch = (a: ActivationArena) =>
  a.f32s('dz', 'dh1', 'dy', 'dx', 'ds1', 'dhA', 'dhB', 'dctx', 'dctxSub', 'dqkv', 'demb');
export type BackwardScratch = ReturnType<typeof backwardScratch>;
