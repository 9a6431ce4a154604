/**
 * What every model shares, whatever its architecture (architecture.ts) and head: the config, parameters and
 * gradients in flat buffers (params.ts), the kernels, the activation arena, and the one {@link Encoder}.
 */
import type { Kernels } from '../kernels/types.js';
import { nativeKernels } from '../kernels/native.js';
import type { Architecture } from './architecture.js';
import type { EncoderConfig } from './config.js';
import { ParamStore, paramShapes, type HeadKind } from './params.js';
import { Encoder, type EncoderForwardOptions, type ForwardOptions } from './encoder.js';

export type { ForwardOptions };
import { ActivationArena } from './layers/buffers.js';
import type { Linear } from './layers/linear.js';
import { chooseBackend } from '../kernels/linear_backends.js';
import { initWeights } from './init.js';
import { loadStateDict, normalizeStateDict, type LoadReport } from './state_dict.js';
import type { UnpaddedBatch } from './batch.js';
import type { Tensor } from '../io/safetensors.js';

export interface ModelOptions {
  /** Kernel implementation: the native addon (default) or `referenceKernels` (float64 oracle, slow). */
  kernels?: Kernels;
  /** Seed of the weight initialisation (default 17). */
  initSeed?: number;
  /** Skip the random initialisation (weights are loaded afterwards). */
  noInit?: boolean;
}

export abstract class EncoderModel<C extends EncoderConfig = EncoderConfig> {
  readonly params: ParamStore;
  /** Gradients, same layout as `params`; allocated by the first `zeroGrad()`. */
  grads: ParamStore | null = null;
  readonly k: Kernels;
  /** Counts the activation memory of this model's layers. */
  readonly arena = new ActivationArena();
  readonly encoder: Encoder;

  readonly arch: Architecture;

  /** @param arch the encoder family; subclasses fix it (`MosaicBertForMaskedLM`: MosaicBERT, `BertForMaskedLM`: BERT). */
  protected constructor(readonly config: C, arch: Architecture, readonly head: HeadKind, opts: ModelOptions = {}) {
    this.arch = arch;
    this.params = new ParamStore(paramShapes(config, head, arch));
    this.k = opts.kernels ?? nativeKernels();
    // Reference / HF init: the same name-driven rule for both architectures.
    if (!opts.noInit) initWeights(this.params, config, head, opts.initSeed ?? 17);
    this.encoder = new Encoder(config, arch, this.params, this.k, this.arena);
  }

  /** 'mosaicbert' or 'bert' (classic). */
  get modelType(): Architecture['modelType'] {
    return this.arch.modelType;
  }

  /**
   * The encoder's last hidden states `[nnz, hidden_size]` of an unpadded batch (rows in `u.indices` order), or of
   * `opts.subset` rows. The view is valid until the next forward. Default: evaluation (no dropout), inference
   * mode (activation memory independent of depth).
   */
  encode(u: UnpaddedBatch, opts: EncoderForwardOptions = { training: false, inference: true }): Float32Array {
    return this.encoder.forward(u, opts);
  }

  /** Every projection (encoder, then head), for pruning masks and inference backends. */
  abstract linears(): Linear[];

  /**
   * Prepares the encoder's projections for inference (`Linear.backend`), each by its own weights
   * (`chooseBackend`): fp32 — pre-packed dense panels, or 1x4 block-sparse / CSR when the weight is sparse past the
   * measured crossover (`SPARSE_CROSSOVER`); 'q8' — INT8 weights per output channel, activations per token, dense
   * or 1x4 block-sparse. LayerNorm, softmax, GELU, attention and the heads stay fp32. The weights are snapshotted:
   * training (`backward`) refuses to run until {@link clearInference}. Returns the backend kind per projection.
   */
  prepareInference(dtype: 'fp32' | 'q8' = 'fp32'): Record<string, string> {
    const kinds: Record<string, string> = {};
    for (const l of this.encoder.linears()) {
      l.backend = chooseBackend(l.weight, l.bias, l.outFeatures, l.inFeatures, { dtype });
      kinds[l.name] = l.backend.kind;
    }
    return kinds;
  }

  /** Drops the inference backends (back to the trainable dense path). */
  clearInference(): void {
    for (const l of this.linears()) l.backend = null;
  }

  /** Fraction of exactly-zero weights over the encoder's projections (what pruning produces). */
  encoderSparsity(): number {
    let z = 0, n = 0;
    for (const l of this.encoder.linears()) { z += l.sparsity() * l.weight.length; n += l.weight.length; }
    return n ? z / n : 0;
  }

  /** Sets every gradient to zero (allocating the gradient buffer on first use). */
  zeroGrad(): ParamStore {
    if (!this.grads) this.grads = this.params.zerosLike();
    else this.grads.data.fill(0);
    return this.grads;
  }

  /**
   * Loads reference-named tensors (Composer's `model.` prefix stripped; for classic BERT also HF's historical key
   * variants, see {@link normalizeStateDict}). Returns missing / unexpected keys; throws on a shape or dtype mismatch.
   */
  loadStateDict(sd: Map<string, Tensor>, source?: string): LoadReport {
    return loadStateDict(this.params, normalizeStateDict(sd, this.arch), source);
  }

  /** Number of parameters (the tied decoder counted once). */
  numParameters(): number {
    return this.params.numel();
  }

  /** Bytes of activation memory currently held. */
  activationBytes(): number {
    return this.arena.bytes;
  }

  protected requireGrads(): ParamStore {
    return this.grads ?? this.zeroGrad();
  }
}
