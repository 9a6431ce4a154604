/**
 * Parameters in one flat float32 buffer (and gradients in another of the same layout), with a named view per
 * tensor. Names and shapes are exactly the reference state-dict keys (the reference's `bert_layers.py`), in the
 * reference's `named_parameters()` order; the tied decoder weight is not a separate parameter.
 */
import { MOSAICBERT, type Architecture } from './architecture.js';
import type { EncoderConfig } from './config.js';

export interface ParamSpec {
  name: string;
  shape: number[];
  /** Offset in floats into the flat buffer. */
  offset: number;
  size: number;
}

/** Which heads the model has: MLM (`cls.predictions.*`) or sequence classification (pooler + classifier). */
export type HeadKind = 'mlm' | 'classification';

/**
 * The parameter list `[name, shape]` of a model, in the reference's `named_parameters()` order (for classic BERT,
 * HF's, except that each layer's q/k/v weights precede the q/k/v biases so the three form one fused block).
 * @param arch MosaicBERT (default) or classic BERT (see architecture.ts).
 */
export function paramShapes(cfg: EncoderConfig, head: HeadKind, arch: Architecture = MOSAICBERT): Array<[string, number[]]> {
  const H = cfg.hidden_size, I = cfg.intermediate_size;
  const out: Array<[string, number[]]> = [];
  const add = (name: string, shape: number[]) => out.push([name, shape]);
  /** A Linear `[o, i]` (+ bias `[o]`) or a LayerNorm `[H]` weight + bias. */
  const linear = (name: string, o: number, i: number, bias = true) => { add(name + '.weight', [o, i]); if (bias) add(name + '.bias', [o]); };
  const layerNorm = (name: string) => { add(name + '.weight', [H]); add(name + '.bias', [H]); };
  add('bert.embeddings.word_embeddings.weight', [cfg.vocab_size, H]);
  if (arch.positions === 'learned') add('bert.embeddings.position_embeddings.weight', [cfg.max_position_embeddings, H]);
  add('bert.embeddings.token_type_embeddings.weight', [cfg.type_vocab_size, H]);
  layerNorm('bert.embeddings.LayerNorm');
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `bert.encoder.layer.${l}.`;
    if (arch.qkv === 'fused') linear(p + 'attention.self.Wqkv', 3 * H, H);
    else {
      for (const t of ['query', 'key', 'value']) add(`${p}attention.self.${t}.weight`, [H, H]);
      for (const t of ['query', 'key', 'value']) add(`${p}attention.self.${t}.bias`, [H]);
    }
    linear(p + 'attention.output.dense', H, H);
    layerNorm(p + 'attention.output.LayerNorm');
    if (arch.ffn === 'geglu') {
      linear(p + 'mlp.gated_layers', 2 * I, H, false);
      linear(p + 'mlp.wo', H, I);
      layerNorm(p + 'mlp.layernorm');
    } else {
      linear(p + 'intermediate.dense', I, H);
      linear(p + 'output.dense', H, I);
      layerNorm(p + 'output.LayerNorm');
    }
  }
  if (head === 'mlm') {
    linear('cls.predictions.transform.dense', H, H);
    layerNorm('cls.predictions.transform.LayerNorm');
    add(arch.mlmDecoderBiasKey, [cfg.vocab_size]);
  } else {
    linear('bert.pooler.dense', H, H);
    linear('classifier', cfg.num_labels, H);
  }
  return out;
}

/** Rounds float offsets up to 16 floats (64 bytes) so every tensor starts cache-line aligned. */
const ALIGN = 16;
/** Tensors stored right after their predecessor, with no alignment gap: classic BERT's key/value after query. */
const PACKED = /\.attention\.self\.(key|value)\.(weight|bias)$/;

/**
 * Lays out `[name, shape]` tensors in one buffer: each starts 64-byte aligned, except `attention.self.key.*` /
 * `value.*`, which follow `query.*` / `key.*` with no gap so that `query..value` form one fused `[3H, H]` block.
 */
export function layoutParams(shapes: Array<[string, number[]]>): ParamSpec[] {
  let off = 0;
  return shapes.map(([name, shape]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    if (!PACKED.test(name)) off = Math.ceil(off / ALIGN) * ALIGN;
    const s = { name, shape, offset: off, size };
    off += size;
    return s;
  });
}

/**
 * A set of named tensors laid out in one flat Float32Array. `ParamStore`s with the same specs share the layout, so
 * parameters, gradients and optimizer moments are aligned index for index.
 */
export class ParamStore {
  readonly specs: ParamSpec[];
  readonly data: Float32Array;
  private readonly byName: Map<string, ParamSpec>;

  constructor(shapes: Array<[string, number[]]> | ParamSpec[], data?: Float32Array) {
    this.specs = shapes.length && Array.isArray(shapes[0]) ? layoutParams(shapes as Array<[string, number[]]>)
      : shapes as ParamSpec[];
    const total = this.specs.length ? this.specs[this.specs.length - 1].offset + this.specs[this.specs.length - 1].size : 0;
    const padded = Math.ceil(total / ALIGN) * ALIGN;
    if (data && data.length < padded) throw new Error(`ParamStore: buffer of ${data.length} floats, need ${padded}`);
    this.data = data ?? new Float32Array(padded);
    this.byName = new Map(this.specs.map((s) => [s.name, s]));
  }

  /** A zero-filled store with the same layout (for gradients, optimizer moments). */
  zerosLike(): ParamStore {
    return new ParamStore(this.specs);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The view of tensor `name`; throws an Error listing close names when it does not exist. */
  get(name: string): Float32Array {
    const s = this.byName.get(name);
    if (!s) throw new Error(`no parameter named '${name}'`);
    return this.data.subarray(s.offset, s.offset + s.size);
  }

  /** The view of a spec of this layout (or a span of several contiguous ones). */
  view(s: { offset: number; size: number }): Float32Array {
    return this.data.subarray(s.offset, s.offset + s.size);
  }

  /**
   * One spec spanning the tensors `first` .. `last` of this layout (e.g. classic BERT's query, key, value as one
   * fused block). @throws Error when absent or when a gap separates them.
   */
  span(name: string, first: string, last: string): ParamSpec {
    const a = this.require(first), b = this.require(last), size = b.offset + b.size - a.offset;
    const inner = this.specs.slice(this.specs.indexOf(a), this.specs.indexOf(b) + 1);
    if (inner.reduce((n, s) => n + s.size, 0) !== size) throw new Error(`${first} .. ${last} are not stored contiguously`);
    return { name, shape: [inner.length * a.shape[0], ...a.shape.slice(1)], offset: a.offset, size };
  }

  /** The spec of tensor `name`. @throws Error naming it when absent. */
  require(name: string): ParamSpec {
    const s = this.byName.get(name);
    if (!s) throw new Error(`no parameter named '${name}'`);
    return s;
  }

  spec(name: string): ParamSpec | undefined {
    return this.byName.get(name);
  }

  /** Number of scalar parameters (alignment padding excluded). */
  numel(): number {
    return this.specs.reduce((a, s) => a + s.size, 0);
  }
}
