/** The `mosaicbert` command line. */
import { Command } from 'commander';
import { registerCheckFixture } from './check_fixture.js';
import { registerBench } from './bench.js';
import { registerPretrain } from './pretrain.js';
import { registerPrepare } from './prepare.js';
import { registerReport } from './report.js';
import { registerFillMask } from './fill_mask.js';
import { registerEmbed } from './embed.js';
import { registerClassify } from './classify.js';
import { registerFinetune } from './finetune.js';
import { registerGlue } from './glue.js';
import { registerServe } from './serve.js';

const program = new Command();
program
  .name('mosaicbert')
  .description('MosaicBERT on native CPU kernels: pretrain, fine-tune, prune and serve BERT encoders')
  .version('0.1.0');
registerCheckFixture(program);
registerBench(program);
registerPrepare(program);
registerPretrain(program);
registerReport(program);
registerFillMask(program);
registerEmbed(program);
registerClassify(program);
registerFinetune(program);
registerGlue(program);
registerServe(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  console.error(`mosaicbert: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(2);
});
