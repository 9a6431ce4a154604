/**
 * Parameters in one flat float32 buffer (and gradients in another of the same layout), with a named view per
 * tensor. Names and shapes are exactly the reference state-dict keys (docs/mosaicbert.md §1, fact 14), in the
 * reference's `named_parameters()` order; the tied decoder weight is not a separate parameter.
 */
import { MOSAICBERT, type Architecture, type EncoderConfig } from './architecture.js';

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
  const out: Array<[string, number[]]> = [['bert.embeddings.word_embeddings.weight', [cfg.vocab_size, H]]];
  if (arch.positions === 'learned') out.push(['bert.embeddings.position_embeddings.weight', [cfg.max_position_embeddings, H]]);
  out.push(
    ['bert.embeddings.token_type_embeddings.weight', [cfg.type_vocab_size, H]],
    ['bert.embeddings.LayerNorm.weight', [H]],
    ['bert.embeddings.LayerNorm.bias', [H]],
  );
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `bert.encoder.layer.${l}.`;
    if (arch.qkv === 'fused') {
      out.push([p + 'attention.self.Wqkv.weight', [3 * H, H]], [p + 'attention.self.Wqkv.bias', [3 * H]]);
    } else {
      for (const t of ['query', 'key', 'value']) out.push([`${p}attention.self.${t}.weight`, [H, H]]);
      for (const t of ['query', 'key', 'value']) out.push([`${p}attention.self.${t}.bias`, [H]]);
    }
    out.push(
      [p + 'attention.output.dense.weight', [H, H]],
      [p + 'attention.output.dense.bias', [H]],
      [p + 'attention.output.LayerNorm.weight', [H]],
      [p + 'attention.output.LayerNorm.bias', [H]],
    );
    if (arch.ffn === 'geglu') {
      out.push(
        [p + 'mlp.gated_layers.weight', [2 * I, H]],
        [p + 'mlp.wo.weight', [H, I]],
        [p + 'mlp.wo.bias', [H]],
        [p + 'mlp.layernorm.weight', [H]],
        [p + 'mlp.layernorm.bias', [H]],
      );
    } else {
      out.push(
        [p + 'intermediate.dense.weight', [I, H]],
        [p + 'intermediate.dense.bias', [I]],
        [p + 'output.dense.weight', [H, I]],
        [p + 'output.dense.bias', [H]],
        [p + 'output.LayerNorm.weight', [H]],
        [p + 'output.LayerNorm.bias', [H]],
      );
    }
  }
  if (head === 'mlm') {
    out.push(
      ['cls.predictions.transform.dense.weight', [H, H]],
      ['cls.predictions.transform.dense.bias', [H]],
      ['cls.predictions.transform.LayerNorm.weight', [H]],
      ['cls.predictions.transform.LayerNorm.bias', [H]],
      [arch.mlmDecoderBiasKey, [cfg.vocab_size]],
    );
  } else {
    out.push(
      ['bert.pooler.dense.weight', [H, H]],
      ['bert.pooler.dense.bias', [H]],
      ['classifier.weight', [cfg.num_labels, H]],
      ['classifier.bias', [cfg.num_labels]],
    );
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
