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
import { registerQuantize } from './quantize.js';
import { debugRequested, installCliErrorHandlers, reportCliError } from './errors.js';
import { checkKernelEnv } from '../kernels/native.js';
import { registerPrune } from './prune.js';
import { abortDistributed } from './distributed.js';
import { registerServe } from './serve.js';
import { registerEval } from './eval.js';

const program = new Command();
program
  .name('mosaicbert')
  .description('MosaicBERT on native CPU kernels: pretrain, fine-tune, prune and serve BERT encoders')
  .version('0.1.0')
  .option('--debug', 'print the stack trace of an error (accepted before or after the command)');
const debug = debugRequested();
installCliErrorHandlers(debug);
try { checkKernelEnv(); } catch (e) { process.exit(reportCliError(e, debug)); }
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
registerQuantize(program);
registerPrune(program);
registerServe(program);
registerEval(program);

program.parseAsync(process.argv.filter((a, i) => i < 2 || a !== '--debug')).catch((e: unknown) => {
  abortDistributed(e instanceof Error ? e.message : String(e), 2);
  process.exit(reportCliError(e, debug));
});
