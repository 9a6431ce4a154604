/**
 * Dynamic INT8 quantization of an ONNX graph, done the way ONNX Runtime's `quantize_dynamic` does it (its
 * `IntegerOps` mode, `operators/matmul.py`, with `MatMulConstBOnly` as in dynamic mode): every default-domain
 * `MatMul` whose B is a constant 2-D float initializer `[K, N]` becomes
 *
 *   (x_q, x_scale, x_zp) = DynamicQuantizeLinear(x)                 uint8, per tensor, asymmetric (ONNX opset 11)
 *   y_int = MatMulInteger(x_q, W_q, x_zp, W_zp)                      int32 accumulation
 *   y     = Mul(Cast<float>(y_int), Mul(x_scale, W_scale))           (a following bias Add stays as it was)
 *
 * with W quantized symmetrically to int8 in [-127, 127] (`weight_type=QInt8`, `WeightSymmetric`), per column of B,
 * i.e. per output channel (`per_channel=True`; ONNX's MatMulInteger takes an N-element `b_zero_point` and ORT's CPU
 * kernel supports it), or per tensor with `perChannel: false` (ORT's default): `scale = max|w| / 127` (1 when the
 * column is all zero), `q = round_half_even(w / scale)`, zero point 0. ONNX Runtime's optimizer fuses the pattern
 * into its `DynamicQuantizeMatMul` / `MatMulIntegerToFloat` kernels at session creation. Attention's activation x
 * activation MatMuls (no constant B) and the embedding Gathers stay fp32.
 *
 * Works on the bytes of any ModelProto (ours from `onnx_export.ts` or another exporter's) whose weights are
 * stored in the file (`raw_data` or `float_data`, not external data); nested subgraphs (If / Loop bodies) are left
 * as they are. The model's fields other than the graph, and the graph's other nodes and tensors, are copied byte
 * for byte.
 */
import { DType, nodeProto, tensorProto } from './onnx/graph.js';
import { PbWriter } from './onnx/protobuf.js';
import { fieldInts, fieldString, readFields, type PbField } from './onnx/pb_reader.js';

/** Options of {@link quantizeOnnxDynamic}. */
export interface QuantizeDynamicOptions {
  /** Weight scales per output channel (column of B; default) or one per tensor (ORT's own default). */
  perChannel?: boolean;
  /** Called once per quantized MatMul with its weight's name and `[K, N]` (for logs and tests). */
  onQuantized?: (weight: string, K: number, N: number) => void;
}

interface Initializer {
  name: string;
  dims: number[];
  dtype: number;
  field: PbField;
  fields: PbField[];
}

interface Node {
  inputs: string[];
  outputs: string[];
  name: string;
  op: string;
  domain: string;
  field: PbField;
}

function parseInitializer(f: PbField): Initializer {
  const fs = readFields(f.payload, 'TensorProto');
  const one = (n: number) => fs.find((x) => x.field === n);
  const nameF = one(8);
  return { name: nameF ? fieldString(nameF) : '', dims: fieldInts(fs.filter((x) => x.field === 1), 'TensorProto.dims'),
    dtype: Number(one(2)?.varint ?? 0n), field: f, fields: fs };
}

function parseNode(f: PbField): Node {
  const fs = readFields(f.payload, 'NodeProto');
  const strs = (n: number) => fs.filter((x) => x.field === n).map(fieldString);
  return { inputs: strs(1), outputs: strs(2), name: strs(3)[0] ?? '', op: strs(4)[0] ?? '', domain: strs(7)[0] ?? '', field: f };
}

/** A float initializer's values (raw_data or float_data). Throws for external data. */
function floatValues(t: Initializer): Float32Array {
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (t.fields.some((x) => x.field === 14 && x.varint === 1n)) {
    throw new Error(`onnx quantize: weight '${t.name}' is stored as external data, which is not supported`);
  }
  const raw = t.fields.find((x) => x.field === 9);
  let bytes: Uint8Array | undefined = raw?.payload;
  if (!bytes) {
    // float_data (field 4): packed fixed32 runs or single fixed32 fields.
    const parts = t.fields.filter((x) => x.field === 4).map((x) => x.payload);
    bytes = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) { bytes.set(p, o); o += p.length; }
  }
  if (bytes.length !== 4 * n) {
    throw new Error(`onnx quantize: weight '${t.name}' has ${bytes.length} data bytes, dims ${t.dims.join('x')} need ${4 * n}`);
  }
  return new Float32Array(bytes.slice().buffer);
}

/** Round half to even (numpy's `round`, which ORT's quantizer uses). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Symmetric int8 quantization of B `[K, N]` (row-major) per column (`perChannel`) or per tensor:
 * `scale = max|b| / 127` (1 when all zero), `q = clamp(round_half_even(b / scale), -127, 127)`. Returns the
 * int8 values `[K, N]` and the float32 scales (`[N]` or `[1]`).
 */
export function quantizeWeightSymmetric(B: Float32Array, K: number, N: number, perChannel: boolean): { q: Int8Array; scale: Float32Array } {
  const amax = new Float64Array(perChannel ? N : 1);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) {
      const a = Math.abs(B[k * N + n]), c = perChannel ? n : 0;
      if (a > amax[c]) amax[c] = a;
    }
  }
  const scale = Float32Array.from(amax, (a) => (a > 0 ? a / 127 : 1));
  const q = new Int8Array(K * N);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) {
      const v = roundHalfEven(B[k * N + n] / scale[perChannel ? n : 0]);
      q[k * N + n] = Math.max(-127, Math.min(127, v));
    }
  }
  return { q, scale };
}

/**
 * Returns the ModelProto bytes with every MatMul on a constant float weight replaced by its dynamically
 * quantized form (see the file comment). Throws an Error when the bytes are not a ModelProto with a graph, when the
 * default-domain opset is below 11 (DynamicQuantizeLinear), when a new tensor name would collide with an existing
 * one, or when a weight is stored as external data.
 */
export function quantizeOnnxDynamic(model: Uint8Array, opts: QuantizeDynamicOptions = {}): Uint8Array {
  const perChannel = opts.perChannel ?? true;
  const mfields = readFields(model, 'ModelProto');
  const graphFields = mfields.filter((f) => f.field === 7);
  if (graphFields.length !== 1) throw new Error(`onnx quantize: expected one graph in the ModelProto, found ${graphFields.length}`);
  for (const f of mfields.filter((x) => x.field === 8)) {
    const os = readFields(f.payload, 'OperatorSetIdProto');
    const domain = os.find((x) => x.field === 1);
    const version = Number(os.find((x) => x.field === 2)?.varint ?? 0n);
    if ((!domain || fieldString(domain) === '' || fieldString(domain) === 'ai.onnx') && version < 11) {
      throw new Error(`onnx quantize: the model imports opset ${version}; DynamicQuantizeLinear needs opset >= 11`);
    }
  }
  const gfields = readFields(graphFields[0].payload, 'GraphProto');
  const inits = new Map<string, Initializer>();
  for (const f of gfields) if (f.field === 5) { const t = parseInitializer(f); inits.set(t.name, t); }
  const nodes = gfields.filter((f) => f.field === 1).map(parseNode);

  // Every name in use (to refuse collisions) and how many consumers each tensor has.
  const names = new Set<string>([...inits.keys()]);
  const uses = new Map<string, number>();
  for (const n of nodes) {
    for (const o of n.outputs) names.add(o);
    for (const i of n.inputs) uses.set(i, (uses.get(i) ?? 0) + 1);
    if (n.name) names.add(n.name);
  }
  for (const f of gfields) {
    if (f.field === 11 || f.field === 12) {
      const nm = fieldString(readFields(f.payload, 'ValueInfoProto').find((x) => x.field === 1)!);
      names.add(nm);
      if (f.field === 12) uses.set(nm, (uses.get(nm) ?? 0) + 1);
    }
  }
  const fresh = (s: string): string => {
    if (names.has(s)) throw new Error(`onnx quantize: tensor name '${s}' already exists in the graph`);
    names.add(s);
    return s;
  };

  const quantizable = (n: Node): Initializer | null => {
    if (n.op !== 'MatMul' || (n.domain !== '' && n.domain !== 'ai.onnx') || n.inputs.length !== 2) return null;
    const w = inits.get(n.inputs[1]);
    return w && w.dtype === DType.FLOAT && w.dims.length === 2 ? w : null;
  };

  const newNodes = new Map<Node, PbWriter[]>();
  const newInits: PbWriter[] = [];
  const dropped = new Set<string>();
  const xq = new Map<string, [string, string, string]>();
  const wq = new Map<string, [string, string, string]>();
  for (const n of nodes) {
    const w = quantizable(n);
    if (!w) continue;
    const [K, N] = w.dims;
    const out: PbWriter[] = [];
    const x = n.inputs[0], tag = n.name || n.outputs[0];
    let xs = xq.get(x);
    if (!xs) {
      xs = [fresh(`${x}_quantized`), fresh(`${x}_scale`), fresh(`${x}_zero_point`)];
      out.push(nodeProto('DynamicQuantizeLinear', [x], xs, fresh(`${x}_QuantizeLinear`)));
      xq.set(x, xs);
    }
    let ws = wq.get(w.name);
    if (!ws) {
      const { q, scale } = quantizeWeightSymmetric(floatValues(w), K, N, perChannel);
      const C = perChannel ? N : 1, dims = perChannel ? [N] : [];
      ws = [fresh(`${w.name}_quantized`), fresh(`${w.name}_scale`), fresh(`${w.name}_zero_point`)];
      newInits.push(tensorProto(ws[0], [K, N], DType.INT8, new Uint8Array(q.buffer)));
      newInits.push(tensorProto(ws[1], dims, DType.FLOAT, new Uint8Array(scale.buffer)));
      newInits.push(tensorProto(ws[2], dims, DType.INT8, new Uint8Array(C)));
      wq.set(w.name, ws);
      if (uses.get(w.name) === wUses(nodes, w.name, quantizable)) dropped.add(w.name);
      opts.onQuantized?.(w.name, K, N);
    }
    const mm = fresh(`${n.outputs[0]}_output_quantized`), cast = fresh(`${mm}_cast_output`);
    const scales = fresh(`${tag}_quant_scales_mul:0`);
    out.push(nodeProto('MatMulInteger', [xs[0], ws[0], xs[2], ws[2]], [mm], fresh(`${tag}_quant`)));
    out.push(nodeProto('Cast', [mm], [cast], fresh(`${mm}_cast`), { to: { i: DType.FLOAT } }));
    out.push(nodeProto('Mul', [xs[1], ws[1]], [scales], fresh(`${tag}_quant_scales_mul`)));
    out.push(nodeProto('Mul', [cast, scales], [n.outputs[0]], fresh(`${tag}_quant_output_scale_mul`)));
    newNodes.set(n, out);
  }

  // Re-emit the graph: nodes in place (a quantized MatMul replaced by its pattern), float weights used only by
  // quantized MatMuls dropped, the new int8 tensors appended.
  const byField = new Map(nodes.map((n) => [n.field, n]));
  const g = new PbWriter();
  for (const f of gfields) {
    if (f.field === 1) {
      const repl = newNodes.get(byField.get(f)!);
      if (repl) { for (const r of repl) g.message(1, r); continue; }
    }
    if (f.field === 5 && dropped.has(parseInitializer(f).name)) continue;
    g.raw(f.encoded);
  }
  for (const t of newInits) g.message(5, t);
  const m = new PbWriter();
  for (const f of mfields) {
    if (f.field === 7) m.message(7, g);
    else m.raw(f.encoded);
  }
  return m.finish();
}

/** How many node inputs name `w` in MatMuls that will be quantized. */
function wUses(nodes: Node[], w: string, quantizable: (n: Node) => Initializer | null): number {
  let c = 0;
  for (const n of nodes) if (quantizable(n)) c += n.inputs.filter((i) => i === w).length;
  return c;
}
