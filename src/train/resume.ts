/**
 * What a resumed run must share with the run that wrote the checkpoint for its dropout masks, MLM masks and data
 * order to continue exactly: the seed (Philox key of every mask), the microbatch size (dropout streams are numbered
 * per microbatch), and the data order (global batch size, shuffling, number of samples, masking rate). They are
 * stored in every checkpoint's `state.json` (`state.rng`) and compared on resume.
 */

/** The run settings a checkpoint records besides the counters. */
export interface ResumeFingerprint {
  microbatch_size: number;
  global_batch_size: number;
  shuffle: boolean;
  num_samples: number;
  /** MLM masking rate (pretraining); absent for fine-tuning. */
  mlm_probability?: number;
  /** Data-parallel ranks (or emulated gradient shards) the gradient was summed over; absent in older checkpoints. */
  gradient_shards?: number;
}

/** A fingerprint with its fields in a fixed order (for state.json). */
export function resumeFingerprint(f: ResumeFingerprint): ResumeFingerprint {
  const out: ResumeFingerprint = { microbatch_size: f.microbatch_size, global_batch_size: f.global_batch_size,
    shuffle: f.shuffle, num_samples: f.num_samples };
  if (f.mlm_probability !== undefined) out.mlm_probability = f.mlm_probability;
  if (f.gradient_shards !== undefined) out.gradient_shards = f.gradient_shards;
  return out;
}

const WHAT: Record<string, string> = {
  seed: 'seed (Philox key of the dropout and masking streams)',
  microbatch_size: 'microbatch size (dropout streams are numbered per microbatch)',
  global_batch_size: 'global batch size (data order)',
  shuffle: 'shuffling (data order)',
  num_samples: 'number of training samples (data order)',
  mlm_probability: 'mlm_probability (masking)',
  gradient_shards: 'number of ranks (each rank sums its microbatches, then the ranks are summed in rank order, so ' +
    'another number of ranks rounds the gradient differently and the run would not continue bit for bit; use the ' +
    "checkpoint's number of ranks, or 'gradientShards' in one process)",
};

/**
 * Compares the checkpoint's recorded settings with this run's. Fields the checkpoint does not record (older
 * checkpoints) are not compared.
 * @throws Error naming the checkpoint and every differing setting (saved vs now), unless `allow`, in which case
 *   the differences are returned for a warning.
 */
export function checkResume(dir: string, saved: Partial<ResumeFingerprint> & { seed?: number },
  now: ResumeFingerprint & { seed: number }, allow: boolean): string[] {
  const diffs: string[] = [];
  for (const [k, v] of Object.entries(now)) {
    const s = (saved as Record<string, unknown>)[k];
    if (s !== undefined && v !== undefined && s !== v) diffs.push(`${WHAT[k] ?? k}: checkpoint ${JSON.stringify(s)}, now ${JSON.stringify(v)}`);
  }
  if (diffs.length && !allow) {
    throw new Error(`${dir}: cannot resume exactly: ${diffs.join('; ')}. Use the checkpoint's settings, or pass ` +
      '--allow-resume-mismatch to continue with different random streams');
  }
  return diffs;
}
