/**
 * Gradient buffers of the backward pass that no layer keeps after it returns: one set per model, shared by every
 * layer (a layer's backward is done before the next one starts), typed fields rather than names.
 */
import type { ActivationArena, GrowF32 } from './buffers.js';

export class BackwardScratch {
  /** FFN: gradient of the LayerNorm input `[n, H]`. */
  readonly dz: GrowF32;
  /** FFN: gradient of the block input h1 `[n, H]` (residual + projection). */
  readonly dh1: GrowF32;
  /** FFN: gradient of the activation output `[n, I]`. */
  readonly dy: GrowF32;
  /** FFN: gradient of the GeGLU input `[n, 2I]`. */
  readonly dx: GrowF32;
  /** Attention: gradient of the output LayerNorm input `[n, H]`. */
  readonly ds1: GrowF32;
  /** Gradient of a layer's input `[nnz, H]`, alternating between two buffers across layers. */
  readonly dhA: GrowF32;
  readonly dhB: GrowF32;
  /** Attention: gradient of the context `[nnz, H]`, and of its subset rows `[n, H]`. */
  readonly dctx: GrowF32;
  readonly dctxSub: GrowF32;
  /** Attention: gradient of the fused projection output `[nnz, 3H]`. */
  readonly dqkv: GrowF32;
  /** Embeddings: gradient of the summed embeddings `[nnz, H]`. */
  readonly demb: GrowF32;

  constructor(arena: ActivationArena) {
    this.dz = arena.f32(); this.dh1 = arena.f32(); this.dy = arena.f32(); this.dx = arena.f32();
    this.ds1 = arena.f32(); this.dhA = arena.f32(); this.dhB = arena.f32(); this.dctx = arena.f32();
    this.dctxSub = arena.f32(); this.dqkv = arena.f32(); this.demb = arena.f32();
  }
}
