/**
 * One rank of the MPI tests (test/distributed/mpi.test.ts runs it under `mpirun -np 2`): pretrains the tiny model
 * with the Trainer and MpiCollectives as described by the JSON in MB_WORKER, and rank 0 writes the losses and the
 * weights (base64) to `out`; or fine-tunes (`finetune` options), rank 0 writing `outDir`. Not a test file itself.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TokenDataset } from '../../src/data/token_dataset.js';
import { MpiCollectives } from '../../src/distributed/mpi.js';
import { setNumThreads } from '../../src/kernels/native.js';
import { Trainer } from '../../src/train/trainer.js';
import { finetune, type FinetuneOptions } from '../../src/glue/finetune.js';
import { tinyConfig } from '../train/helpers.js';

interface Job { data: string; runDir: string; overrides: string[]; out: string; stopAt?: number; resume?: boolean;
  /** Each rank appends `rank pid step` lines here after every step (fault test). */
  progress?: string; hangRank?: number; hangAt?: number;
  /** Fine-tune with these options instead of pretraining. */
  finetune?: FinetuneOptions;
  /** ZeRO stage of the optimizer (pretraining and fine-tuning). */
  zeroStage?: 0 | 1;
  /** Prune every encoder Linear: weight i is masked when i % maskMod == 0 (the masks then apply in every step). */
  maskMod?: number }

const job = JSON.parse(process.env.MB_WORKER!) as Job;
setNumThreads(1);
const coll = new MpiCollectives();
try {
  if (job.finetune) {
    await finetune({ ...job.finetune, collectives: coll, log: true, zeroStage: job.zeroStage });
    coll.finalize();
    process.exit(0);
  }
  const trainer = new Trainer({ config: tinyConfig(job.overrides), train: TokenDataset.open(join(job.data, 'train')),
    val: TokenDataset.open(join(job.data, 'val')), runDir: job.runDir, resume: job.resume, collectives: coll, zeroStage: job.zeroStage,
    onStep: (s) => {
      if (job.progress) writeFileSync(job.progress, `${coll.rank} ${process.pid} ${s}\n`, { flag: 'a' });
      if (s === job.hangAt && coll.rank === job.hangRank) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120e3);
      return s === job.stopAt ? 'stop' : undefined;
    } });
  if (job.maskMod) {
    for (const l of trainer.model.encoder.linears()) {
      l.mask = Uint8Array.from({ length: l.outFeatures * l.inFeatures }, (_, i) => (i % job.maskMod! === 0 ? 0 : 1));
      l.applyMask();
    }
  }
  const r = await trainer.fit();
  // ZeRO-1: the full moments reach rank 0 only by this collective (the final save already gathered them at this t).
  trainer.optimizer.gatherForCheckpoint();
  if (coll.rank === 0) {
    writeFileSync(job.out, JSON.stringify({ losses: [...r.losses], step: r.state.step, comm_s: coll.seconds,
      weights: Buffer.from(trainer.model.params.data.buffer).toString('base64'),
      expAvgSq: Buffer.from(trainer.optimizer.expAvgSq.data.buffer).toString('base64') }));
  }
  coll.finalize();
} catch (e) {
  console.error(`worker rank ${coll.rank}: ${(e as Error).message}`);
  coll.abort(3);
}
