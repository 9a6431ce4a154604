/**
 * What both MosaicBERT models share: config, parameters and gradients in flat buffers, the kernels, the activation
 * workspace and the encoder.
 */
import type { Kernels } from '../kernels/types.js';
import { nativeKernels } from '../kernels/native.js';
import type { MosaicBertConfig } from './config.js';
import { ParamStore, paramShapes, type HeadKind } from './params.js';
import { Workspace } from './workspace.js';
import { MosaicBertEncoder } from './encoder.js';
import { initWeights } from './init.js';
import { loadStateDict, type LoadReport } from './state_dict.js';
import type { Tensor } from '../io/safetensors.js';

export interface ModelOptions {
  /** Kernel implementation: the native addon (default) or `referenceKernels` (float64 oracle, slow). */
  kernels?: Kernels;
  /** Seed of the weight initialisation (default 17). */
  initSeed?: number;
  /** Skip the random initialisation (weights are loaded afterwards). */
  noInit?: boolean;
}

export abstract class MosaicBertBase {
  readonly params: ParamStore;
  /** Gradients, same layout as `params`; allocated by the first `zeroGrad()`. */
  grads: ParamStore | null = null;
  readonly k: Kernels;
  readonly ws = new Workspace();
  readonly encoder: MosaicBertEncoder;

  protected constructor(readonly config: MosaicBertConfig, readonly head: HeadKind, opts: ModelOptions = {}) {
    this.params = new ParamStore(paramShapes(config, head));
    this.k = opts.kernels ?? nativeKernels();
    if (!opts.noInit) initWeights(this.params, config, head, opts.initSeed ?? 17);
    this.encoder = new MosaicBertEncoder(config, this.params, this.k, this.ws);
  }

  /** Sets every gradient to zero (allocating the gradient buffer on first use). */
  zeroGrad(): ParamStore {
    if (!this.grads) this.grads = this.params.zerosLike();
    else this.grads.data.fill(0);
    return this.grads;
  }

  /** Loads reference-named tensors (see {@link loadStateDict}). */
  loadStateDict(sd: Map<string, Tensor>, source?: string): LoadReport {
    return loadStateDict(this.params, sd, source);
  }

  /** Number of parameters (the tied decoder counted once). */
  numParameters(): number {
    return this.params.numel();
  }

  protected requireGrads(): ParamStore {
    return this.grads ?? this.zeroGrad();
  }
}
