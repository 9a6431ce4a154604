/**
 * Running the exported encoder with ONNX Runtime (`onnxruntime-node`, an optional dev dependency): a loader that
 * returns null when the package is absent, and a helper that feeds a padded batch to a session. The types below
 * are the small part of onnxruntime-node's API used here, so this compiles without the package installed.
 */
import type { PaddedBatch } from '../../model/batch.js';
import { alibiBias, ONNX_IO } from '../onnx_export.js';

/** An ORT tensor (the fields used here). */
export interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}

/** An ORT inference session (the methods used here). */
export interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

/** The onnxruntime-node module (the members used here). */
export interface OrtModule {
  Tensor: new (type: 'int64' | 'float32', data: BigInt64Array | Float32Array, dims: readonly number[]) => OrtTensor;
  InferenceSession: { create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession> };
  env: { versions?: Record<string, string> };
}

/** Imports onnxruntime-node; null when it is not installed (or its native binding does not load). */
export async function loadOnnxRuntime(): Promise<OrtModule | null> {
  const name = 'onnxruntime-node';
  try {
    const m = (await import(name)) as { default?: OrtModule } & OrtModule;
    const ort = m.InferenceSession ? m : m.default;
    return ort && ort.InferenceSession ? ort : null;
  } catch {
    return null;
  }
}

/**
 * CPU session options for a fair comparison: `intraOpNumThreads` threads, one inter-op thread, sequential
 * execution, all graph optimizations.
 */
export function cpuSessionOptions(threads: number): Record<string, unknown> {
  return {
    executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
}

/**
 * The exported graph's feeds for a padded batch: int64 ids / mask / type ids and the ALiBi bias for its length
 * (pass `alibi` to reuse one computed for the same head count and length).
 */
export function onnxFeeds(ort: OrtModule, b: PaddedBatch, numHeads: number, alibi?: Float32Array): Record<string, OrtTensor> {
  const n = b.batch * b.seqlen, dims = [b.batch, b.seqlen];
  const i64 = (a: Int32Array | undefined, fill: number) => {
    const out = new BigInt64Array(n);
    for (let i = 0; i < n; i++) out[i] = BigInt(a ? a[i] : fill);
    return new ort.Tensor('int64', out, dims);
  };
  return {
    [ONNX_IO.inputIds]: i64(b.input_ids, 0),
    [ONNX_IO.attentionMask]: i64(b.attention_mask, 1),
    [ONNX_IO.tokenTypeIds]: i64(b.token_type_ids, 0),
    [ONNX_IO.alibiBias]: new ort.Tensor('float32', alibi ?? alibiBias(numHeads, b.seqlen), [1, numHeads, b.seqlen, b.seqlen]),
  };
}

/** Runs the session on feeds; returns `last_hidden_state` `[B, S, hidden]` as a Float32Array. */
export async function runEncoderSession(session: OrtSession, feeds: Record<string, OrtTensor>): Promise<Float32Array> {
  const out = await session.run(feeds);
  return out[ONNX_IO.output].data as Float32Array;
}
