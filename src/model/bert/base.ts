/**
 * What both classic-BERT models share: config, HF-named parameters and gradients in flat buffers (fused q/k/v
 * layout), the kernels, the activation workspace and the encoder; HF state-dict loading with its historical
 * key variants.
 */
import type { Kernels } from '../../kernels/types.js';
import { nativeKernels } from '../../kernels/native.js';
import type { MosaicBertConfig } from '../config.js';
import type { HeadKind, ParamStore } from '../params.js';
import { Workspace } from '../workspace.js';
import { initWeights } from '../init.js';
import { loadStateDict, type LoadReport } from '../state_dict.js';
import type { ModelOptions } from '../base.js';
import type { Tensor } from '../../io/safetensors.js';
import type { BertConfig } from './config.js';
import { BertEncoder } from './encoder.js';
import { BERT_DECODER_BIAS_ALIAS, BERT_DECODER_BIAS_KEY, bertParamStore } from './params.js';

/** Buffers HF checkpoints may carry that are not parameters (silently dropped on load). */
const BUFFER_KEYS = new Set(['bert.embeddings.position_ids']);

/**
 * Normalises a HF BERT state dict: strips Composer's `model.` prefix, renames the TF-era `LayerNorm.gamma/beta` to
 * `weight/bias` (as transformers does on load; the hub's bert-base-uncased .bin uses them), maps
 * `cls.predictions.decoder.bias` to `cls.predictions.bias` (HF ties the two) and drops `position_ids` buffers.
 */
export function normalizeBertStateDict(sd: Map<string, Tensor>): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k0, v] of sd) {
    let k = k0.startsWith('model.') ? k0.slice(6) : k0;
    k = k.replace(/LayerNorm\.gamma$/, 'LayerNorm.weight').replace(/LayerNorm\.beta$/, 'LayerNorm.bias');
    if (BUFFER_KEYS.has(k)) continue;
    out.set(k, v);
  }
  if (out.has(BERT_DECODER_BIAS_ALIAS)) {
    if (!out.has(BERT_DECODER_BIAS_KEY)) out.set(BERT_DECODER_BIAS_KEY, out.get(BERT_DECODER_BIAS_ALIAS)!);
    out.delete(BERT_DECODER_BIAS_ALIAS);
  }
  return out;
}

export abstract class BertBase {
  readonly params: ParamStore;
  /** Gradients, same layout as `params`; allocated by the first `zeroGrad()`. */
  grads: ParamStore | null = null;
  readonly k: Kernels;
  readonly ws = new Workspace();
  readonly encoder: BertEncoder;
  /** Discriminates classic BERT from MosaicBERT models. */
  readonly modelType = 'bert' as const;

  protected constructor(readonly config: BertConfig, readonly head: HeadKind, opts: ModelOptions = {}) {
    this.params = bertParamStore(config, head);
    this.k = opts.kernels ?? nativeKernels();
    // HF `_init_weights` (Linear/Embedding N(0, initializer_range^2), biases 0, LayerNorm 1/0, padding row 0 unless
    // re-drawn by the tied decoder): the same name-driven rule as MosaicBERT's init, which reads only
    // initializer_range / pad_token_id / hidden_size from the config.
    if (!opts.noInit) initWeights(this.params, config as unknown as MosaicBertConfig, head, opts.initSeed ?? 17);
    this.encoder = new BertEncoder(config, this.params, this.k, this.ws);
  }

  /** Sets every gradient to zero (allocating the gradient buffer on first use). */
  zeroGrad(): ParamStore {
    if (!this.grads) this.grads = this.params.zerosLike();
    else this.grads.data.fill(0);
    return this.grads;
  }

  /**
   * Loads HF-named tensors (after {@link normalizeBertStateDict}); the tied `cls.predictions.decoder.weight` is the
   * word-embedding matrix. Returns missing / unexpected keys; throws on a shape or dtype mismatch.
   */
  loadStateDict(sd: Map<string, Tensor>, source?: string): LoadReport {
    return loadStateDict(this.params, normalizeBertStateDict(sd), source);
  }

  /** Number of parameters (the tied decoder counted once): 109,514,298 for bert-base-uncased with the MLM head. */
  numParameters(): number {
    return this.params.numel();
  }

  protected requireGrads(): ParamStore {
    return this.grads ?? this.zeroGrad();
  }
}
