/**
 * ONNX export of the MosaicBERT encoder for inference (no MLM or classification head), the reference's `bert_layers.py` from `BertEmbeddings` to the last `BertLayer`,
 * written as an ONNX ModelProto with our own protobuf writer (src/interop/onnx/).
 *
 * Graph (opset 17, padded computation as an exported HF BERT does; B and S are symbolic):
 *
 *   inputs:  input_ids, attention_mask, token_type_ids  [B, S] int64;  alibi_bias [1, H, S, S] float
 *            (`-slope_h * |i - j|`, see {@link alibiBias}: computed once per sequence length on the caller's side)
 *   emb  = LayerNormalization(Gather(word, input_ids) + Gather(type, token_type_ids))
 *   bias = (1 - float(mask))[:, None, None, :] * -10000 + alibi_bias                        [B, H, S, S]
 *   per layer:  qkv = h @ Wqkv^T + b ;  q, k, v = Split(qkv) -> [B, H, S, d] (k as [B, H, d, S])
 *               ctx = Softmax(q @ k / sqrt(d) + bias) @ v -> [B, S, hidden]
 *               h1  = LN(ctx @ Wo^T + bo + h)
 *               g, u = Split(h1 @ Wg^T) ;  y = (g * 0.5 * (1 + erf(g / sqrt 2))) * u     (exact GELU, HF's pattern)
 *               h   = LN(y @ Wwo^T + bwo + h1)
 *   output:  last_hidden_state = h * mask  [B, S, hidden]   (padded positions exactly 0, as the reference's pad_input)
 *
 * MatMul weights are stored transposed (`[in, out]`), so the graph is plain MatMul + Add.
 */
import { writeFileSync } from 'node:fs';
import type { MosaicBertConfig } from '../model/config.js';
import type { ParamStore } from '../model/params.js';
import { alibiSlopes } from '../model/alibi.js';
import { DType, OnnxGraphBuilder } from './onnx/graph.js';
import { quantizeOnnxDynamic } from './onnx_quantize.js';

/** Options of {@link exportEncoderOnnx}. */
export interface ExportOnnxOptions {
  /** 'dynamic-int8': the graph quantized as ONNX Runtime's `quantize_dynamic` does it ({@link quantizeOnnxDynamic}). */
  quantize?: 'none' | 'dynamic-int8';
}

/** Opset of the exported graph (LayerNormalization needs 17). */
export const ONNX_OPSET = 17;

/** Names of the exported graph's inputs and output. */
export const ONNX_IO = {
  inputIds: 'input_ids',
  attentionMask: 'attention_mask',
  tokenTypeIds: 'token_type_ids',
  alibiBias: 'alibi_bias',
  output: 'last_hidden_state',
} as const;

/** `w` `[rows, cols]` row-major, transposed to `[cols, rows]`. */
function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = w[base + c];
  }
  return out;
}

/**
 * The `[1, H, S, S]` ALiBi bias input for sequence length `seqlen`: `-slope_h * |i - j|`, with the reference's
 * float32 slopes (Press et al. 2022; the reference's `bert_layers.py`).
 */
export function alibiBias(numHeads: number, seqlen: number): Float32Array {
  const slopes = alibiSlopes(numHeads);
  const out = new Float32Array(numHeads * seqlen * seqlen);
  for (let h = 0; h < numHeads; h++) {
    const s = slopes[h];
    for (let i = 0; i < seqlen; i++) {
      const row = (h * seqlen + i) * seqlen;
      for (let j = 0; j < seqlen; j++) out[row + j] = -s * Math.abs(i - j);
    }
  }
  return out;
}

/**
 * Builds the ONNX ModelProto bytes of the encoder with the weights in `params` (reference state-dict names, as
 * {@link ParamStore} holds them; any head parameters are ignored), fp32 or, with `opts.quantize: 'dynamic-int8'`,
 * with its projections dynamically quantized (src/interop/onnx_quantize.ts). Throws an Error when an encoder tensor
 * is missing or has the wrong size.
 */
export function exportEncoderOnnx(cfg: MosaicBertConfig, params: ParamStore, opts: ExportOnnxOptions = {}): Uint8Array {
  const fp32 = exportEncoderOnnxFp32(cfg, params);
  return opts.quantize === 'dynamic-int8' ? quantizeOnnxDynamic(fp32) : fp32;
}

function exportEncoderOnnxFp32(cfg: MosaicBertConfig, params: ParamStore): Uint8Array {
  const H = cfg.hidden_size, nh = cfg.num_attention_heads, I = cfg.intermediate_size;
  if (H % nh !== 0) throw new Error(`onnx export: hidden_size ${H} is not a multiple of num_attention_heads ${nh}`);
  const d = H / nh;
  const g = new OnnxGraphBuilder('mosaicbert_encoder');
  const P = (name: string, size: number): Float32Array => {
    const t = params.get(name);
    if (t.length !== size) throw new Error(`onnx export: '${name}' has ${t.length} values, expected ${size}`);
    return t;
  };
  const io = ONNX_IO;
  g.input(io.inputIds, DType.INT64, ['batch', 'seq']);
  g.input(io.attentionMask, DType.INT64, ['batch', 'seq']);
  g.input(io.tokenTypeIds, DType.INT64, ['batch', 'seq']);
  g.input(io.alibiBias, DType.FLOAT, [1, nh, 'seq', 'seq']);

  // Constants.
  const one = g.floatInit('c_one', [], Float32Array.of(1));
  const half = g.floatInit('c_half', [], Float32Array.of(0.5));
  const maskFill = g.floatInit('c_mask_fill', [], Float32Array.of(-10000));
  const sqrtD = g.floatInit('c_sqrt_d', [], Float32Array.of(Math.sqrt(d)));
  const sqrt2 = g.floatInit('c_sqrt2', [], Float32Array.of(Math.SQRT2));
  const shapeB11S = g.int64Init('c_shape_b11s', [4], [0, 1, 1, -1]);
  const shapeBS1 = g.int64Init('c_shape_bs1', [3], [0, 0, 1]);
  const shapeHeads = g.int64Init('c_shape_heads', [4], [0, 0, nh, d]);
  const shapeHidden = g.int64Init('c_shape_hidden', [3], [0, 0, H]);
  const splitQkv = g.int64Init('c_split_qkv', [3], [H, H, H]);
  const splitGlu = g.int64Init('c_split_glu', [2], [I, I]);
  const eps = { f: cfg.layer_norm_eps };

  // Embeddings.
  const word = g.floatInit('word_embeddings', [cfg.vocab_size, H],
    P('bert.embeddings.word_embeddings.weight', cfg.vocab_size * H));
  const type = g.floatInit('token_type_embeddings', [cfg.type_vocab_size, H],
    P('bert.embeddings.token_type_embeddings.weight', cfg.type_vocab_size * H));
  const vec = (name: string, onnxName: string, n: number) => g.floatInit(onnxName, [n], P(name, n));
  const emb = g.op('Add', [g.op('Gather', [word, io.inputIds]), g.op('Gather', [type, io.tokenTypeIds])]);
  let h = g.op('LayerNormalization', [emb, vec('bert.embeddings.LayerNorm.weight', 'emb_ln_w', H),
    vec('bert.embeddings.LayerNorm.bias', 'emb_ln_b', H)], { axis: { i: -1 }, epsilon: eps });

  // Additive attention bias, shared by every layer.
  const maskF = g.op('Cast', [io.attentionMask], { to: { i: DType.FLOAT } });
  const keyBias = g.op('Reshape', [g.op('Mul', [g.op('Sub', [one, maskF]), maskFill]), shapeB11S]);
  const bias = g.op('Add', [keyBias, io.alibiBias]);

  const linear = (x: string, name: string, wName: string, bName: string | null, out: number, inn: number): string => {
    const w = g.floatInit(`${name}_wT`, [inn, out], transpose(P(wName, out * inn), out, inn));
    const y = g.op('MatMul', [x, w]);
    return bName ? g.op('Add', [y, g.floatInit(`${name}_b`, [out], P(bName, out))]) : y;
  };

  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `bert.encoder.layer.${l}.`, t = `l${l}`;
    const qkv = linear(h, `${t}_qkv`, p + 'attention.self.Wqkv.weight', p + 'attention.self.Wqkv.bias', 3 * H, H);
    const [q0, k0, v0] = g.node('Split', [qkv, splitQkv], 3, { axis: { i: -1 } });
    const heads = (x: string, perm: number[]) => g.op('Transpose', [g.op('Reshape', [x, shapeHeads])], { perm: { ints: perm } });
    const q = heads(q0, [0, 2, 1, 3]), k = heads(k0, [0, 2, 3, 1]), v = heads(v0, [0, 2, 1, 3]);
    const scores = g.op('Add', [g.op('Div', [g.op('MatMul', [q, k]), sqrtD]), bias]);
    const probs = g.op('Softmax', [scores], { axis: { i: -1 } });
    const ctx = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [probs, v])], { perm: { ints: [0, 2, 1, 3] } }),
      shapeHidden]);
    const a = linear(ctx, `${t}_attn_out`, p + 'attention.output.dense.weight', p + 'attention.output.dense.bias', H, H);
    const h1 = g.op('LayerNormalization', [g.op('Add', [a, h]),
      vec(p + 'attention.output.LayerNorm.weight', `${t}_ln1_w`, H),
      vec(p + 'attention.output.LayerNorm.bias', `${t}_ln1_b`, H)], { axis: { i: -1 }, epsilon: eps });
    const x = linear(h1, `${t}_gated`, p + 'mlp.gated_layers.weight', null, 2 * I, H);
    const [gate, up] = g.node('Split', [x, splitGlu], 2, { axis: { i: -1 } });
    const erf = g.op('Erf', [g.op('Div', [gate, sqrt2])]);
    const gelu = g.op('Mul', [g.op('Mul', [gate, g.op('Add', [erf, one])]), half]);
    const y = g.op('Mul', [gelu, up]);
    const z = linear(y, `${t}_wo`, p + 'mlp.wo.weight', p + 'mlp.wo.bias', H, I);
    h = g.op('LayerNormalization', [g.op('Add', [z, h1]),
      vec(p + 'mlp.layernorm.weight', `${t}_ln2_w`, H),
      vec(p + 'mlp.layernorm.bias', `${t}_ln2_b`, H)], { axis: { i: -1 }, epsilon: eps });
  }
  g.op('Mul', [h, g.op('Reshape', [maskF, shapeBS1])], {}, io.output);
  g.output(io.output, DType.FLOAT, ['batch', 'seq', H]);
  return g.encode({ opset: ONNX_OPSET, producer: 'mosaicbert', producerVersion: '0.1.0',
    doc: 'MosaicBERT encoder (no head); alibi_bias = -slope_h * |i - j|, shape [1, H, S, S]' });
}

/** Writes {@link exportEncoderOnnx}'s model to `path`; returns its size in bytes. */
export function writeEncoderOnnx(path: string, cfg: MosaicBertConfig, params: ParamStore): number {
  const bytes = exportEncoderOnnx(cfg, params);
  writeFileSync(path, bytes);
  return bytes.length;
}
