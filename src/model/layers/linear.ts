/**
 * The one place a projection runs: `Y = X W^T + b` (PyTorch `nn.Linear`, W is `[out, in]`), its input gradient
 * `dX = dY W` and its parameter gradients `dW += dY^T X`, `db += colsum(dY)`, on the SGEMM and bias kernels.
 *
 * A `Linear` owns views of its weight and bias inside the model's flat parameter buffer (so the optimizer, the
 * checkpoint and the layer all see the same memory) and knows their offsets, so it finds its gradients in any
 * store of the same layout. Two hooks are here so that later work plugs in without touching the layers:
 * - an inference {@link LinearForwardBackend} (pre-packed, sparse or quantized weights) replaces the dense forward
 *   when set; the training path refuses to run on such a snapshot;
 * - a pruning {@link Linear.mask} (1 keep, 0 pruned, one byte per weight) is applied to the weight and to its
 *   gradient by {@link Linear.applyMask}.
 */
import type { Kernels } from '../../kernels/types.js';
import type { ParamSpec, ParamStore } from '../params.js';
import type { LinearForwardBackend } from '../../kernels/linear_backends.js';

export type { LinearForwardBackend };

export class Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** `[out, in]` view into the parameter buffer. */
  readonly weight: Float32Array;
  /** `[out]` view, or null for a bias-free projection (MosaicBERT's `mlp.gated_layers`). */
  readonly bias: Float32Array | null;
  /** Inference backend; when set, `forward` runs it and `backward` throws. */
  backend: LinearForwardBackend | null = null;
  /** Pruning mask `[out * in]` (1 keep, 0 pruned) or null (dense). */
  mask: Uint8Array | null = null;

  /**
   * @param name the module name without `.weight` (e.g. `bert.encoder.layer.0.attention.self.Wqkv`), for errors.
   * @param w the weight's spec in `params` (`shape [out, in]`); `b` the bias's (`[out]`) or null.
   * @throws Error when the shapes disagree.
   */
  constructor(private readonly k: Kernels, params: ParamStore, readonly name: string, private readonly w: ParamSpec,
    private readonly b: ParamSpec | null) {
    if (w.shape.length !== 2) throw new Error(`${name}: weight must be [out, in], got [${w.shape}]`);
    [this.outFeatures, this.inFeatures] = w.shape;
    if (b && (b.size !== this.outFeatures)) throw new Error(`${name}: bias has ${b.size} elements, expected ${this.outFeatures}`);
    this.weight = params.view(w);
    this.bias = b ? params.view(b) : null;
  }

  /** The weight gradient `[out, in]` in `G` (a store with the parameters' layout). */
  gradWeight(G: ParamStore): Float32Array { return G.view(this.w); }

  /** The bias gradient `[out]` in `G`, or null. */
  gradBias(G: ParamStore): Float32Array | null { return this.b ? G.view(this.b) : null; }

  /** `Y[rows, out] = X[rows, in] W^T + b` (Y overwritten). */
  forward(X: Float32Array, rows: number, Y: Float32Array): void {
    if (this.backend) { this.backend.forward(X, rows, Y); return; }
    const { k, inFeatures: I, outFeatures: O } = this;
    k.sgemm(false, true, rows, O, I, 1, X, I, this.weight, I, 0, Y, O);
    if (this.bias) k.addBias(Y, this.bias, rows, O);
  }

  /**
   * Backward of {@link forward} given its input `X`: accumulates `dW += dY^T X` and `db += colsum(dY)` into `G`,
   * and writes `dX = dY W` (or adds it when `accumulateDX`); `dX` null skips it.
   * @throws Error when an inference backend is set (its weights are a snapshot, not the trained parameters).
   */
  backward(G: ParamStore, dY: Float32Array, X: Float32Array, rows: number, dX: Float32Array | null,
    accumulateDX = false): void {
    if (this.backend) throw new Error(`${this.name}: backward with an inference backend (${this.backend.kind}) set`);
    if (rows === 0) return;
    const { k, inFeatures: I, outFeatures: O } = this;
    k.sgemm(true, false, O, I, rows, 1, dY, O, X, I, 1, this.gradWeight(G), I);
    const db = this.gradBias(G);
    if (db) k.biasGrad(dY, rows, O, db);
    if (dX) k.sgemm(false, false, rows, I, O, 1, dY, O, this.weight, I, accumulateDX ? 1 : 0, dX, I);
  }

  /** Zeroes the pruned weights (and, with `G`, their gradients). No-op without a mask. */
  applyMask(G?: ParamStore): void {
    const m = this.mask;
    if (!m) return;
    const w = this.weight, g = G ? this.gradWeight(G) : null;
    for (let i = 0; i < m.length; i++) if (!m[i]) { w[i] = 0; if (g) g[i] = 0; }
  }

  /** Fraction of exactly-zero weights. */
  sparsity(): number {
    let z = 0;
    for (let i = 0; i < this.weight.length; i++) if (this.weight[i] === 0) z++;
    return this.weight.length ? z / this.weight.length : 0;
  }
}
