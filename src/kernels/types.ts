/**
 * The kernel contract: every compute kernel the engine uses, with shapes, dtypes and semantics.
 *
 * Two implementations exist with identical signatures:
 * - `nativeKernels` (src/kernels/native.ts): the C++ addon, AVX2+FMA or portable path, multithreaded;
 * - `referenceKernels` (src/kernels/reference/index.ts): plain TypeScript, every intermediate in float64, written
 *   to be obviously correct. It is the test oracle, and the whole model can run on it (slowly).
 *
 * Conventions:
 * - Matrices are row-major float32 (`Float32Array`); a `[rows, cols]` matrix has `cols` contiguous floats per row.
 *   Any argument may be a `subarray()` view; nothing is copied.
 * - Integer tensors (token ids, `cu_seqlens`, targets) are `Int32Array`.
 * - Gradients of parameters are ACCUMULATED (`+=`) so microbatches can add into one gradient buffer; gradients of
 *   activations are OVERWRITTEN unless stated.
 * - Sizes are checked against buffer lengths: a short buffer throws a RangeError naming the argument.
 * - Randomness (dropout) comes from Philox4x32-10 keyed by `(seed, stream)` and indexed by element, so masks do
 *   not depend on the thread count; see `philoxUniform`.
 */
export interface Kernels {
  /** Which implementation this is: 'native' or 'reference'. */
  readonly name: string;

  // ---------------------------------------------------------------- GEMM
  /**
   * SGEMM: `C = alpha * op(A) @ op(B) + beta * C`, all row-major float32.
   * `op(A)` is `[M, K]`: A is `[M, lda>=K]` when `!transA`, else `[K, lda>=M]` (A^T used).
   * `op(B)` is `[K, N]`: B is `[K, ldb>=N]` when `!transB`, else `[N, ldb>=K]` (B^T used).
   * C is `[M, ldc>=N]`. When `beta == 0`, C is not read (NaNs in C do not propagate), as in BLAS.
   * Linear forward `Y = X W^T` is `(false, true)`, `dX = dY W` is `(false, false)`, `dW += dY^T X` is
   * `(true, false)` with beta 1.
   */
  sgemm(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number): void;

  /** `Y[r, c] += bias[c]` for `Y: [rows, cols]`, `bias: [cols]`. */
  addBias(Y: Float32Array, bias: Float32Array, rows: number, cols: number): void;

  /** Bias gradient: `dBias[c] += sum_r dY[r, c]` (sum in a fixed order, independent of the thread count). */
  biasGrad(dY: Float32Array, rows: number, cols: number, dBias: Float32Array): void;

  // ---------------------------------------------------------------- attention
  /**
   * Unpadded bidirectional ALiBi attention forward (MosaicBERT `BertUnpadSelfAttention`), FlashAttention-style:
   * for each sequence b (rows `cu_seqlens[b] .. cu_seqlens[b+1]`) and head h,
   * `S_ij = (q_i . k_j) / sqrt(headDim) - slopes[h] * |i - j|`, `P = softmax_j(S)`, optional dropout on P,
   * `out_i = sum_j P_ij v_j`. Keys of other sequences and padding are never touched (the reference's -10000 key
   * mask underflows to an exact 0 in float32, so skipping them is exact).
   *
   * @param qkv `[nnz, 3 * numHeads * headDim]`: columns `[Q | K | V]`, heads contiguous inside each block (the
   *   reference's `Wqkv` output layout).
   * @param cuSeqlens `[batch + 1]` Int32Array, `cu_seqlens[0] = 0`, non-decreasing, last = nnz.
   * @param slopes `[numHeads]` ALiBi slopes (float32, as the reference builds them).
   * @param dropoutP attention-probability dropout in [0, 1); 0 disables it.
   * @param seed, stream Philox key and stream for the dropout mask: the random number of (head h, global query
   *   row r, key position j within its sequence) is `philoxUniform(seed, stream, (h * nnz + r) * 2^20 + j)`, so
   *   sequences are limited to 2^20 tokens when dropout is on.
   * @param out `[nnz, numHeads * headDim]` context, heads concatenated in order.
   * @param lse `[numHeads, nnz]` float32: the row log-sum-exp of S (saved for the backward).
   */
  attentionForward(qkv: Float32Array, cuSeqlens: Int32Array, batch: number, numHeads: number, headDim: number,
    slopes: Float32Array, dropoutP: number, seed: number, stream: number, out: Float32Array, lse: Float32Array): void;

  /**
   * Backward of `attentionForward` (same arguments plus its `out` and `lse`): writes `dQkv` `[nnz, 3*H*d]`
   * (overwritten, Q/K/V column blocks as in qkv). Recomputes P from `lse`; regenerates the dropout mask from
   * (seed, stream).
   */
  attentionBackward(qkv: Float32Array, cuSeqlens: Int32Array, batch: number, numHeads: number, headDim: number,
    slopes: Float32Array, dropoutP: number, seed: number, stream: number, out: Float32Array, lse: Float32Array,
    dOut: Float32Array, dQkv: Float32Array): void;

  // ---------------------------------------------------------------- LayerNorm
  /**
   * Residual add fused with LayerNorm (post-LN): `s = x + residual` (residual may be null: `s = x`),
   * `out = (s - mean) * rstd * gamma + beta` with biased variance, `rstd = 1/sqrt(var + eps)`.
   * @param sum if not null, receives `s` `[rows, cols]` (needed by the backward); may alias `x`.
   * @param mean, rstd `[rows]` saved statistics.
   * `out` may alias `x` only when `sum` is given and is not `x`.
   */
  layerNormForward(x: Float32Array, residual: Float32Array | null, gamma: Float32Array, beta: Float32Array,
    rows: number, cols: number, eps: number, sum: Float32Array | null, out: Float32Array,
    mean: Float32Array, rstd: Float32Array): void;

  /**
   * LayerNorm backward from the saved input `s` (the `sum` of the forward) and statistics:
   * writes `dX` `[rows, cols]` (the gradient w.r.t. s, i.e. w.r.t. both x and residual; overwritten),
   * accumulates `dGamma += sum_r dOut * xhat`, `dBeta += sum_r dOut` (fixed-order sums). `dX` may alias `dOut`.
   */
  layerNormBackward(dOut: Float32Array, s: Float32Array, gamma: Float32Array, mean: Float32Array,
    rstd: Float32Array, rows: number, cols: number, dX: Float32Array, dGamma: Float32Array,
    dBeta: Float32Array): void;

  // ---------------------------------------------------------------- activations
  /** Exact (erf) GELU: `out = x * 0.5 * (1 + erf(x / sqrt 2))` on n elements; out may alias x. */
  geluForward(x: Float32Array, n: number, out: Float32Array): void;
  /** `dX = dOut * gelu'(x)` on n elements (overwritten; may alias dOut). */
  geluBackward(x: Float32Array, dOut: Float32Array, n: number, dX: Float32Array): void;

  /**
   * GeGLU (MosaicBERT `BertGatedLinearUnitMLP`): for `x: [rows, 2I]`,
   * `out[r, c] = gelu(x[r, c]) * x[r, I + c]`, `out: [rows, I]`. GELU (exact erf) on the FIRST half.
   */
  gegluForward(x: Float32Array, rows: number, I: number, out: Float32Array): void;
  /** GeGLU backward: `dX: [rows, 2I]` (overwritten) from `x` and `dOut: [rows, I]`. */
  gegluBackward(x: Float32Array, dOut: Float32Array, rows: number, I: number, dX: Float32Array): void;

  /** `out = tanh(x)` on n elements (pooler). */
  tanhForward(x: Float32Array, n: number, out: Float32Array): void;
  /** `dX = dOut * (1 - y^2)` from the forward output `y`. */
  tanhBackward(y: Float32Array, dOut: Float32Array, n: number, dX: Float32Array): void;

  // ---------------------------------------------------------------- dropout
  /**
   * Inverted dropout: `keep_i = philoxUniform(seed, stream, i) >= p`, `out_i = keep_i ? x_i / (1 - p) : 0`,
   * `mask_i = keep_i` (Uint8Array, for the backward). p = 0 copies x. out may alias x.
   */
  dropoutForward(x: Float32Array, n: number, p: number, seed: number, stream: number, out: Float32Array,
    mask: Uint8Array): void;
  /** `dX_i = mask_i ? dOut_i / (1 - p) : 0` (overwritten; may alias dOut). */
  dropoutBackward(dOut: Float32Array, mask: Uint8Array, n: number, p: number, dX: Float32Array): void;

  // ---------------------------------------------------------------- embeddings
  /**
   * Embedding lookup with token types: `out[r] = wordEmb[ids[r]] + typeEmb[typeIds[r]]`, `out: [n, hidden]`.
   * Throws a RangeError if an id is outside its table.
   */
  embeddingForward(ids: Int32Array, typeIds: Int32Array, n: number, hidden: number, wordEmb: Float32Array,
    vocab: number, typeEmb: Float32Array, typeVocab: number, out: Float32Array): void;

  /**
   * Scatter-add backward of one table: `dTable[ids[r]] += dOut[r]` for every r with `ids[r] != paddingIdx`
   * (PyTorch `nn.Embedding(padding_idx)` rule: the padding row receives no gradient from the lookup; pass -1 for
   * none). Deterministic: rows are added in increasing r for each table row, whatever the thread count.
   */
  embeddingBackward(ids: Int32Array, n: number, hidden: number, dOut: Float32Array, dTable: Float32Array,
    vocab: number, paddingIdx: number): void;

  // ---------------------------------------------------------------- loss
  /**
   * Softmax cross-entropy over `rows` rows of `logits: [rows, V]` with `targets: [rows]` (only the rows given:
   * the caller gathers the masked rows). Returns the SUM of `logsumexp(row) - row[target]` (as a float64 number;
   * divide by the target count for the mean). Writes the row logsumexp into `lse: [rows]`.
   */
  crossEntropyForward(logits: Float32Array, targets: Int32Array, rows: number, V: number,
    lse: Float32Array): number;

  /**
   * `dLogits[r, :] = scale * (softmax(logits[r]) - onehot(targets[r]))` using the forward's `lse`
   * (overwritten; may alias logits). For a mean loss over n targets, scale = 1/n (times the microbatch weight).
   */
  crossEntropyBackward(logits: Float32Array, targets: Int32Array, lse: Float32Array, rows: number, V: number,
    scale: number, dLogits: Float32Array): void;

  /**
   * Knowledge distillation over `rows` rows of `C` logits (train/distillation.ts): returns
   * `sum_r KL(softmax(teacher_r * invT) || softmax(student_r * invT))` as a float64 number (rows added in order) and,
   * when `grad` is not null, writes `grad[r, c] = scale * (softmax(student_r * invT)_c - softmax(teacher_r * invT)_c)`.
   * `invT` = 1 / temperature > 0.
   */
  distillationLoss(student: Float32Array, teacher: Float32Array, rows: number, C: number, invT: number,
    grad: Float32Array | null, scale: number): number;

  // ---------------------------------------------------------------- rows
  /** `dst[r] = src[index[r]]` for rows of width `cols` (unpad, subset selection). */
  gatherRows(src: Float32Array, index: Int32Array, n: number, cols: number, dst: Float32Array): void;
  /** `dst[index[r]] = src[r]` (pad; rows of dst not in index are left as they are). */
  scatterRows(src: Float32Array, index: Int32Array, n: number, cols: number, dst: Float32Array): void;
  /** `dst[index[r]] += src[r]`; index entries must be distinct. */
  scatterAddRows(src: Float32Array, index: Int32Array, n: number, cols: number, dst: Float32Array): void;
  /** `y[i] = a * x[i] + b * y[i]` on n elements (b = 0 does not read y). */
  axpby(n: number, a: number, x: Float32Array, b: number, y: Float32Array): void;
  /** `sum_i x[i]^2` in float64 (for gradient clipping), fixed order. */
  sumSquares(x: Float32Array, n: number): number;

  // ---------------------------------------------------------------- optimizer
  /**
   * One Composer `DecoupledAdamW` step over n parameters (Loshchilov & Hutter; Composer semantics), float32 in
   * this order:
   * `p *= 1 - decayFactor * weightDecay` (decayFactor = lr / initial_lr, i.e. the schedule factor — NOT lr),
   * `m = b1 m + (1-b1) g`, `v = b2 v + (1-b2) g^2`,
   * `p -= stepSize * m / (sqrt(v) / biasCorrection2Sqrt + eps)`
   * with `stepSize = lr / (1 - b1^t)` and `biasCorrection2Sqrt = sqrt(1 - b2^t)` computed by the caller in float64.
   */
  adamwStep(param: Float32Array, grad: Float32Array, expAvg: Float32Array, expAvgSq: Float32Array, n: number,
    beta1: number, beta2: number, eps: number, weightDecay: number, decayFactor: number, stepSize: number,
    biasCorrection2Sqrt: number): void;
}
