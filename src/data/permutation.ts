/**
 * A seeded pseudo-random permutation of [0, n) with O(1) memory and O(1) random access: a balanced Feistel network
 * on the smallest even-bit power-of-two domain >= n, 6 rounds whose round function is Philox4x32-10 keyed by the
 * seed (counter: half-block, round, epoch), with cycle walking to stay inside [0, n). Each (seed, epoch) gives a
 * different permutation; any position can be evaluated alone, which is what exact mid-epoch resume needs.
 */
import { philoxBlock } from './philox_block.js';

const ROUNDS = 6;
/** Mixed into the key so that shuffles never share Philox streams with masking or splits (ASCII "PERM"). */
const PERM_TAG = 0x5045524d;
const TWO32 = 4294967296;

export class SeededPermutation {
  private readonly halfBits: number;
  private readonly mask: number;
  private readonly k0: number;
  private readonly k1: number;
  private readonly w = new Uint32Array(4);

  /**
   * @param n size of the permuted range, integer in [0, 2^32).
   * @param seed integer in [0, 2^53).
   * @param epoch integer in [0, 2^32): a fresh permutation per epoch.
   */
  constructor(readonly n: number, seed: number, readonly epoch: number) {
    if (!(Number.isInteger(n) && n >= 0 && n < TWO32)) throw new RangeError(`permutation size ${n} out of range`);
    let bits = 2;
    while (2 ** bits < n) bits += 2;
    this.halfBits = bits / 2;
    this.mask = 2 ** this.halfBits - 1;
    this.k0 = (seed % TWO32) >>> 0;
    this.k1 = (Math.floor(seed / TWO32) ^ PERM_TAG) >>> 0;
  }

  private feistel(x: number): number {
    let left = Math.floor(x / 2 ** this.halfBits), right = x & this.mask;
    for (let r = 0; r < ROUNDS; r++) {
      philoxBlock(right, r, this.epoch, 0, this.k0, this.k1, this.w);
      const f = this.w[0] & this.mask;
      const next = (left ^ f) & this.mask;
      left = right;
      right = next;
    }
    return left * 2 ** this.halfBits + right;
  }

  /** The element at position i of the permuted order (a bijection of [0, n)). */
  at(i: number): number {
    if (!(i >= 0 && i < this.n)) throw new RangeError(`position ${i} out of range [0, ${this.n})`);
    let x = i;
    do { x = this.feistel(x); } while (x >= this.n);
    return x;
  }
}
