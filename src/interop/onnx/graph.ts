/**
 * ONNX messages (onnx.proto, IR version 8) written with {@link PbWriter}: a small graph builder that collects nodes,
 * initializers, inputs and outputs and encodes a ModelProto. Field numbers are those of the public onnx.proto.
 */
import { PbWriter } from './protobuf.js';

/** ONNX `TensorProto.DataType` values used here. */
export const DType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;
export type DTypeValue = (typeof DType)[keyof typeof DType];

/** A dimension: a fixed size or a symbolic name (`dim_param`). */
export type Dim = number | string;

/** A node attribute value: `{ i }` INT, `{ f }` FLOAT, `{ ints }` INTS or `{ s }` STRING. */
export type AttrValue = { i: number } | { f: number } | { ints: number[] } | { s: string };

/** An encoded TensorProto with its data as `raw_data` (little-endian, as ONNX stores it). */
export function tensorProto(name: string, dims: number[], dtype: DTypeValue, raw: Uint8Array): PbWriter {
  const t = new PbWriter();
  // TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9.
  for (const d of dims) t.int(1, d);
  t.int(2, dtype);
  t.string(8, name);
  t.bytes(9, raw);
  return t;
}

function valueInfo(name: string, dtype: DTypeValue, shape: Dim[]): PbWriter {
  // TensorShapeProto.Dimension: dim_value = 1, dim_param = 2.
  const shp = new PbWriter();
  for (const d of shape) {
    const dim = new PbWriter();
    if (typeof d === 'number') dim.int(1, d); else dim.string(2, d);
    shp.message(1, dim);
  }
  // TypeProto.Tensor: elem_type = 1, shape = 2; TypeProto: tensor_type = 1; ValueInfoProto: name = 1, type = 2.
  const tt = new PbWriter().int(1, dtype).message(2, shp);
  const type = new PbWriter().message(1, tt);
  return new PbWriter().string(1, name).message(2, type);
}

function attribute(name: string, v: AttrValue): PbWriter {
  // AttributeProto: name = 1, f = 2, i = 3, s = 4, ints = 8, type = 20 (FLOAT 1, INT 2, STRING 3, INTS 7).
  const a = new PbWriter().string(1, name);
  if ('i' in v) a.int(3, v.i).int(20, 2);
  else if ('f' in v) a.float(2, v.f).int(20, 1);
  else if ('s' in v) a.string(4, v.s).int(20, 3);
  else { for (const x of v.ints) a.int(8, x); a.int(20, 7); }
  return a;
}

/**
 * An encoded NodeProto `op_type(inputs) -> outputs` named `name`, in `domain` ('' = the default ONNX domain).
 */
export function nodeProto(op: string, inputs: string[], outputs: string[], name: string,
  attrs: Record<string, AttrValue> = {}, domain = ''): PbWriter {
  // NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5, domain = 7.
  const n = new PbWriter();
  for (const i of inputs) n.string(1, i);
  for (const o of outputs) n.string(2, o);
  n.string(3, name);
  n.string(4, op);
  for (const [k, v] of Object.entries(attrs)) n.message(5, attribute(k, v));
  if (domain) n.string(7, domain);
  return n;
}

/** Collects a graph's pieces and encodes the ModelProto. */
export class OnnxGraphBuilder {
  private readonly nodes: PbWriter[] = [];
  private readonly inits: PbWriter[] = [];
  private readonly inputs: PbWriter[] = [];
  private readonly outputs: PbWriter[] = [];
  private counter = 0;

  constructor(readonly graphName: string) {}

  /** A fresh tensor name with the given prefix. */
  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  /** Declares a graph input. */
  input(name: string, dtype: DTypeValue, shape: Dim[]): string {
    this.inputs.push(valueInfo(name, dtype, shape));
    return name;
  }

  /** Declares a graph output (an existing tensor name). */
  output(name: string, dtype: DTypeValue, shape: Dim[]): void {
    this.outputs.push(valueInfo(name, dtype, shape));
  }

  /** A float32 initializer (the data is referenced until {@link encode}). */
  floatInit(name: string, dims: number[], data: Float32Array): string {
    const n = dims.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new Error(`onnx: initializer '${name}' has ${data.length} floats, dims ${dims} need ${n}`);
    this.inits.push(tensorProto(name, dims, DType.FLOAT, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
    return name;
  }

  /** An int64 initializer. */
  int64Init(name: string, dims: number[], data: number[]): string {
    const a = BigInt64Array.from(data.map((x) => BigInt(x)));
    this.inits.push(tensorProto(name, dims, DType.INT64, new Uint8Array(a.buffer)));
    return name;
  }

  /**
   * Adds a node `op_type(inputs) -> outputs`; returns the output names (fresh ones named after the op when
   * `outputs` is a count).
   */
  node(op: string, inputs: string[], outputs: number | string[] = 1, attrs: Record<string, AttrValue> = {}): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(op)) : outputs;
    this.nodes.push(nodeProto(op, inputs, outs, this.fresh(`n_${op}`), attrs));
    return outs;
  }

  /** Single-output shorthand of {@link node}. */
  op(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, output?: string): string {
    return this.node(op, inputs, output ? [output] : 1, attrs)[0];
  }

  /** Encodes the ModelProto (IR version 8, default-domain opset `opset`). */
  encode(opts: { opset: number; producer: string; producerVersion: string; doc?: string }): Uint8Array {
    // GraphProto: node = 1, name = 2, initializer = 5, doc_string = 10, input = 11, output = 12.
    const g = new PbWriter();
    for (const n of this.nodes) g.message(1, n);
    g.string(2, this.graphName);
    for (const t of this.inits) g.message(5, t);
    if (opts.doc) g.string(10, opts.doc);
    for (const i of this.inputs) g.message(11, i);
    for (const o of this.outputs) g.message(12, o);
    // ModelProto: ir_version = 1, producer_name = 2, producer_version = 3, graph = 7, opset_import = 8
    // (OperatorSetIdProto: domain = 1, version = 2).
    const m = new PbWriter();
    m.int(1, 8);
    m.string(2, opts.producer);
    m.string(3, opts.producerVersion);
    m.message(7, g);
    m.message(8, new PbWriter().string(1, '').int(2, opts.opset));
    return m.finish();
  }
}
