/**
 * Memory of the block Fisher inverse (oBERT, ../shared/docs/obert.md §1.5): `ceil(d/B)·B·B` float32 entries, i.e.
 * about d·B·4 bytes for d pruned weights at block size B (BERT-base's 84,934,656 encoder weights at B = 50:
 * 15.8 GiB; mosaic-bert-mini's 4,194,304 at B = 50: 800 MiB), plus a staging buffer of R gradients of the
 * same weights (d·R·4 bytes, R = min(8, B)) that feeds the batched Woodbury kernel.
 *
 * When the whole does not fit in `maxMemoryBytes`, the weights are cut into groups (whole Fisher blocks, so the
 * math is unchanged: blocks are independent) that are processed one after the other. Each group needs its own
 * gradient collection, and a pruning step then costs 2·G collections of `num_grads` forward/backward passes
 * instead of 1 (one to score every group before the global threshold is known, one to rebuild each group's inverse
 * for the OBS update). The error when even one Fisher block cannot fit, or when grouping is off, gives the formula.
 */
import { totalmem } from 'node:os';

/** Bytes of the Fisher inverse of a d-element weight at block size B: ceil(d/B)·B²·4 (≈ d·B·4). */
export function fisherInverseBytes(d: number, B: number): number {
  return Math.ceil(d / B) * B * B * 4;
}

/** Gradients staged per Woodbury kernel call. */
export function stagingRows(B: number): number {
  return Math.min(8, B);
}

/** Bytes to process a d-element weight (Fisher inverse + staging). */
export function fisherWorkingBytes(d: number, B: number): number {
  return fisherInverseBytes(d, B) + d * stagingRows(B) * 4;
}

/** "15.82 GiB" / "600.0 MiB". */
export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${(n / 1024).toFixed(1)} KiB`;
}

/** Default budget: half the machine's memory. */
export function defaultMaxMemoryBytes(): number {
  return Math.floor(totalmem() / 2);
}

/** A contiguous run of elements `[start, end)` of target `target`, starting on a Fisher block boundary. */
export interface Segment {
  target: number;
  start: number;
  end: number;
}

export interface FisherPlan {
  /** The groups, each a list of segments processed together. */
  groups: Segment[][];
  /** Bytes of the largest group (Fisher inverse + staging). */
  peakBytes: number;
  /** Bytes the whole would take at once. */
  totalBytes: number;
}

/**
 * Cuts the targets (sizes `sizes[t]` elements) into groups that each fit in `maxMemoryBytes`.
 * @param allowGroups false: refuse instead of grouping.
 * @throws Error giving the formula d·B·4 and the numbers when it cannot fit.
 */
export function planFisherGroups(sizes: readonly number[], B: number, maxMemoryBytes: number,
  allowGroups = true): FisherPlan {
  const d = sizes.reduce((a, b) => a + b, 0);
  const total = sizes.reduce((a, s) => a + fisherWorkingBytes(s, B), 0);
  const formula = `the Fisher inverse takes ceil(d/B)·B²·4 ≈ d·B·4 bytes (d = ${d} pruned weights, B = ${B}: ` +
    `${formatBytes(sizes.reduce((a, s) => a + fisherInverseBytes(s, B), 0))}) plus d·${stagingRows(B)}·4 bytes of staged gradients`;
  if (total <= maxMemoryBytes) return { groups: [sizes.map((s, t) => ({ target: t, start: 0, end: s }))], peakBytes: total, totalBytes: total };
  if (!allowGroups) {
    throw new Error(`not enough memory for oBERT: ${formula}, ${formatBytes(total)} in all, above the limit of ` +
      `${formatBytes(maxMemoryBytes)}; lower the block size, raise the limit, or allow processing in groups`);
  }
  const perElem = B * 4 + stagingRows(B) * 4;  // per element of whole blocks
  const blockBytes = B * perElem;
  if (blockBytes > maxMemoryBytes) {
    throw new Error(`not enough memory for oBERT: ${formula}; even one block (B²·4 + B·${stagingRows(B)}·4 = ` +
      `${formatBytes(blockBytes)}) is above the limit of ${formatBytes(maxMemoryBytes)}`);
  }
  const blocksPerGroup = Math.floor(maxMemoryBytes / blockBytes);
  const groups: Segment[][] = [];
  let cur: Segment[] = [], left = blocksPerGroup, peak = 0, curBytes = 0;
  sizes.forEach((s, t) => {
    for (let start = 0; start < s;) {
      if (left === 0) { groups.push(cur); peak = Math.max(peak, curBytes); cur = []; left = blocksPerGroup; curBytes = 0; }
      const blocks = Math.min(left, Math.ceil((s - start) / B));
      const end = Math.min(s, start + blocks * B);
      cur.push({ target: t, start, end });
      curBytes += fisherWorkingBytes(end - start, B);
      left -= blocks;
      start = end;
    }
  });
  if (cur.length) { groups.push(cur); peak = Math.max(peak, curBytes); }
  return { groups, peakBytes: peak, totalBytes: total };
}
