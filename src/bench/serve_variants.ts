/**
 * The server rows of `bench serve` (which engine, precision and model each one serves), the FLOPs of one request,
 * and the goal of issue 14 as a check over the measured rows.
 *
 * FLOPs of one request of n tokens through MosaicBERT's encoder (forward only, what a served request computes):
 *   2 n L (4 H^2 + 3 I H)      Wqkv (3 H^2), attention output (H^2), GeGLU gated_layers (2 I H) and wo (I H)
 * + 4 n^2 L H                  attention scores Q K^T and probabilities x V (2 n^2 d per head each, H = heads x d)
 * (src/train/metrics.ts's training formula divided by 3, the MLM head left out: `/embed` pools hidden states).
 * For a pruned model this counts the dense FLOPs (the "dense-equivalent" rate: what a dense engine would need for
 * the same answers), so its GFLOP/s can exceed the fp32 peak.
 */

/** One server row. */
export interface ServeVariant {
  id: ServeVariantId;
  /** Row label in the tables. */
  label: string;
  /** The transformers.js peer (src/bench/serve_peer.ts), else `mosaicbert serve`. */
  peer: boolean;
  /** Which weights: the dense random-init model or its 90% 4-block magnitude-pruned copy. */
  model: 'dense' | 'sparse';
  /** Precision: fp32, or INT8 projections (ours `--dtype q8`; the peer `dtype: 'q8'`, onnx/model_quantized.onnx). */
  dtype: 'fp32' | 'q8';
  /** Extra `serve` flags (ours). */
  flags: string[];
}

export const SERVE_VARIANT_IDS = ['batched', 'single', 'peer', 'batched-4096', 'batched-nowait', 'batched-inproc', 'q8', 'sparse', 'sparse-q8', 'peer-q8'] as const;
export type ServeVariantId = typeof SERVE_VARIANT_IDS[number];

/** What `bench serve` runs without `--variants`: the three rows the issue asks for. */
export const DEFAULT_SERVE_VARIANTS: ServeVariantId[] = ['batched', 'single', 'peer'];

/** The row of each id (`maxBatchTokens`: the budget of every batched row but `batched-4096`). */
export function serveVariant(id: ServeVariantId, maxBatchTokens: number): ServeVariant {
  const ours = (label: string, model: 'dense' | 'sparse', dtype: 'fp32' | 'q8', flags: string[] = []): ServeVariant =>
    ({ id, label, peer: false, model, dtype, flags: [...(dtype === 'q8' ? ['--dtype', 'q8'] : []), ...flags] });
  switch (id) {
    case 'batched': return ours('(a) mosaicbert serve, dynamic batching', 'dense', 'fp32');
    case 'single': return ours('(b) mosaicbert serve, one input at a time', 'dense', 'fp32', ['--max-batch-requests', '1']);
    case 'peer': return { id, label: '(c) transformers.js + onnxruntime-node', peer: true, model: 'dense', dtype: 'fp32', flags: [] };
    case 'batched-4096': return ours(`(a') (a) with --max-batch-tokens 4096 (not ${maxBatchTokens})`, 'dense', 'fp32', ['--max-batch-tokens', '4096']);
    case 'batched-nowait': return ours("(a'') (a) with --max-batch-wait-ms 0 (no refill wait)", 'dense', 'fp32', ['--max-batch-wait-ms', '0']);
    case 'batched-inproc': return ours("(h) (a) with --no-worker (the model on the event loop's thread)", 'dense', 'fp32', ['--no-worker']);
    case 'q8': return ours('(d) mosaicbert serve --dtype q8 (INT8)', 'dense', 'q8');
    case 'sparse': return ours('(e) mosaicbert serve, 90% sparse 4-block (GMP), fp32', 'sparse', 'fp32');
    case 'sparse-q8': return ours('(f) mosaicbert serve, 90% sparse 4-block (GMP), --dtype q8', 'sparse', 'q8');
    case 'peer-q8': return { id, label: '(g) transformers.js + onnxruntime-node, INT8 graph (dtype q8)', peer: true, model: 'dense', dtype: 'q8', flags: [] };
  }
}

/**
 * Parses `--variants`: comma-separated ids, or `all`.
 * @throws Error naming the flag and the unknown id.
 */
export function parseServeVariants(v: string): ServeVariantId[] {
  if (v.trim() === 'all') return [...SERVE_VARIANT_IDS];
  const ids = v.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = ids.filter((s) => !(SERVE_VARIANT_IDS as readonly string[]).includes(s));
  if (bad.length || ids.length === 0) {
    throw new Error(`--variants: unknown row '${bad.join(', ') || v}' (known: ${SERVE_VARIANT_IDS.join(', ')}, or all)`);
  }
  return [...new Set(ids)] as ServeVariantId[];
}

/** Encoder shape used by {@link requestFlops}. */
export interface EncoderShape { num_hidden_layers: number; hidden_size: number; intermediate_size: number }

/** Forward FLOPs of one request of `n` tokens (see the file comment; dense-equivalent for a pruned model). */
export function requestFlops(cfg: EncoderShape, n: number): number {
  const L = cfg.num_hidden_layers, H = cfg.hidden_size, I = cfg.intermediate_size;
  return 2 * n * L * (4 * H * H + 3 * I * H) + 4 * n * n * L * H;
}

/** A measured row, as the goal check reads it. */
export interface GoalRow { id: ServeVariantId; tokens: number; connections: number; rps: number; p99: number }

/** One comparison of the goal: `ours` against `peer` at one input length and concurrency. */
export interface GoalCheck {
  ours: ServeVariantId;
  peer: ServeVariantId;
  tokens: number;
  ratio: number;
  oursP99: number;
  peerP99: number;
  /** ratio >= 2 and ours p99 < peer p99. */
  met: boolean;
}

/**
 * The comparisons the goal names, where both rows were measured: fp32 vs fp32 (a/c), INT8 vs INT8 (d/g), and the
 * sparse models against the dense peer of the same precision (e/c, f/g; ONNX Runtime's CPU MatMul does not skip
 * zeros, so a pruned graph costs it what the dense one does), at `connections`.
 */
export function goalChecks(rows: GoalRow[], connections: number): GoalCheck[] {
  const pairs: Array<[ServeVariantId, ServeVariantId]> = [['batched', 'peer'], ['q8', 'peer-q8'], ['sparse', 'peer'], ['sparse-q8', 'peer-q8']];
  const out: GoalCheck[] = [];
  const lengths = [...new Set(rows.map((r) => r.tokens))].sort((a, b) => a - b);
  for (const [o, p] of pairs) {
    for (const n of lengths) {
      const a = rows.find((r) => r.id === o && r.tokens === n && r.connections === connections);
      const b = rows.find((r) => r.id === p && r.tokens === n && r.connections === connections);
      if (!a || !b || !(b.rps > 0)) continue;
      const ratio = a.rps / b.rps;
      out.push({ ours: o, peer: p, tokens: n, ratio, oursP99: a.p99, peerP99: b.p99, met: ratio >= 2 && a.p99 < b.p99 });
    }
  }
  return out;
}
