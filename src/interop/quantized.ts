/**
 * INT8 model folders (`mosaicbert quantize`): the encoder's projection weights stored as int8 per output channel
 * (`<name>.weight`, safetensors I8 `[out, in]`) with their float32 scales (`<name>.weight_scale`, `[out]`), every
 * other tensor fp32 under its usual name, and `quantization_config` in config.json. Loading dequantizes the weights
 * into the model's parameters (`w = scale * q`, so the model is complete) and gives each projection an INT8 backend
 * built from the stored int8 values themselves, so a reloaded model computes exactly what the saved one did.
 * Dynamic quantization as ONNX Runtime's `quantize_dynamic` does it: weights per channel once, activations per
 * token at run time (the kernels' formula), int32 accumulation.
 */
import type { Tensor } from '../io/safetensors.js';
import type { EncoderModel } from '../model/base.js';
import type { Linear } from '../model/layers/linear.js';
import { quantizeRowsInt8 } from '../kernels/quantize.js';
import { blockSparsity4 } from '../kernels/sparse_formats.js';
import { fromInt8, SPARSE_CROSSOVER } from '../kernels/linear_backends.js';

/** `quantization_config.quant_method` of an INT8 folder written by this package. */
export const QUANT_METHOD = 'mosaicbert-q8';

/** The state-dict weight names a Linear covers (classic BERT's fused q/k/v Linear covers three). */
function weightNames(l: Linear): string[] {
  if (!l.name.endsWith('.attention.self.qkv')) return [`${l.name}.weight`];
  const p = l.name.slice(0, -'qkv'.length);
  return ['query', 'key', 'value'].map((t) => `${p}${t}.weight`);
}

/**
 * The quantized state dict of `model`: `sd` (its fp32 state dict) with each encoder projection weight replaced by
 * its int8 values and `_scale`. Per-channel quantization is row by row, so a fused q/k/v weight quantizes as its
 * three parts.
 * @returns the new tensors and the names quantized.
 */
export function quantizeStateDict(model: EncoderModel, sd: Map<string, Tensor>): { tensors: Map<string, Tensor>; modules: string[] } {
  const out = new Map(sd), modules: string[] = [];
  for (const l of model.encoder.linears()) {
    const names = weightNames(l), rows = l.outFeatures / names.length, cols = l.inFeatures;
    names.forEach((n, i) => {
      const { q, scale } = quantizeRowsInt8(l.weight.subarray(i * rows * cols, (i + 1) * rows * cols), rows, cols);
      out.set(n, { dtype: 'I8', shape: [rows, cols], data: q });
      out.set(`${n}_scale`, { dtype: 'F32', shape: [rows], data: scale });
    });
    modules.push(l.name);
  }
  return { tensors: out, modules };
}

/**
 * Replaces each int8 tensor that has a `_scale` by its dequantized fp32 values (in place) and returns the int8
 * values by name, for {@link attachInt8Backends}.
 * @throws Error naming the tensor when an int8 weight has no scale or a scale of the wrong length.
 */
export function dequantizeStateDict(sd: Map<string, Tensor>, source: string): Map<string, { q: Int8Array; scale: Float32Array }> {
  const kept = new Map<string, { q: Int8Array; scale: Float32Array }>();
  for (const [name, t] of [...sd]) {
    if (t.dtype !== 'I8') continue;
    const s = sd.get(`${name}_scale`);
    if (!s || s.dtype !== 'F32' || t.shape.length !== 2 || s.data.length !== t.shape[0]) {
      throw new Error(`${source}: int8 tensor '${name}' needs a float32 '${name}_scale' of ${t.shape[0]} values`);
    }
    const q = t.data as Int8Array, scale = s.data as Float32Array, cols = t.shape[1], w = new Float32Array(q.length);
    for (let i = 0; i < q.length; i++) w[i] = scale[Math.floor(i / cols)] * q[i];
    sd.set(name, { dtype: 'F32', shape: t.shape, data: w });
    sd.delete(`${name}_scale`);
    kept.set(name, { q, scale });
  }
  return kept;
}

/**
 * Gives every encoder projection whose weights were stored as int8 an INT8 backend on those very values (1x4
 * block-sparse when the int8 weight is sparse past the measured crossover).
 * @returns the number of projections given a backend.
 */
export function attachInt8Backends(model: EncoderModel, int8: Map<string, { q: Int8Array; scale: Float32Array }>): number {
  let n = 0;
  for (const l of model.encoder.linears()) {
    const parts = weightNames(l).map((w) => int8.get(w));
    if (parts.some((p) => !p)) continue;
    const q = new Int8Array(l.weight.length), scale = new Float32Array(l.outFeatures);
    let off = 0;
    for (const p of parts) { q.set(p!.q, off * l.inFeatures); scale.set(p!.scale, off); off += p!.scale.length; }
    const sparse = blockSparsity4(q, l.outFeatures, l.inFeatures) > SPARSE_CROSSOVER.q8Bsr4 ? 'bsr4' as const : undefined;
    l.backend = fromInt8(q, scale, l.bias, l.outFeatures, l.inFeatures, { sparse });
    n++;
  }
  return n;
}
