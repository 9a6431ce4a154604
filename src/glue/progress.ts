/** A console progress bar for fine-tuning runs (cli-progress, the pretraining bar's style). */
import cliProgress from 'cli-progress';
import type { FinetuneEvent } from './finetune.js';

/** Formats the metrics of one evaluation, e.g. "dev accuracy 0.9128". */
export function formatEvalMetrics(m: Record<string, Record<string, number>>): string {
  return Object.entries(m).map(([s, x]) => `${s} ${Object.entries(x).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(' ')}`).join(', ');
}

/**
 * An event handler that draws a bar (when `enabled` and stderr is a terminal) or prints a line every `logEvery`
 * steps, and prints every evaluation. Call `stop()` at the end.
 */
export function finetuneProgress(enabled: boolean, label = '', logEvery = 50): { onEvent: (e: FinetuneEvent) => void; stop: () => void } {
  let bar: cliProgress.SingleBar | null = null;
  const tty = enabled && process.stderr.isTTY;
  let lastTotal = 0, lastStep = 0, lossAvg = NaN;
  let payload: Record<string, string> = { loss: '-', lr: '-', eps: '-' };
  const onEvent = (e: FinetuneEvent) => {
    if (e.type === 'start') {
      console.error(`${label}${e.task}: ${e.train_examples} train examples, ${e.steps_per_epoch} steps/epoch, ${e.total_steps} steps, ` +
        `${(e.params / 1e6).toFixed(1)}M params, from ${e.init}`);
      lastTotal = e.total_steps;
      if (tty) {
        bar = new cliProgress.SingleBar({ format: `${label}{bar} {percentage}% | step {value}/{total} | loss {loss} | lr {lr} | {eps} ex/s | ETA {eta_formatted}`,
          barsize: 24, hideCursor: true, etaBuffer: 50 }, cliProgress.Presets.shades_classic);
        bar.start(e.total_steps, 0, payload);
      }
    } else if (e.type === 'step') {
      lossAvg = Number.isNaN(lossAvg) ? e.loss : 0.95 * lossAvg + 0.05 * e.loss;
      lastStep = e.step;
      payload = { loss: lossAvg.toFixed(4), lr: e.lr.toExponential(2), eps: e.examples_per_s.toFixed(1) };
      if (bar) bar.update(e.step, payload);
      else if (enabled && (e.step % logEvery === 0 || e.step === e.total)) {
        console.error(`${label}step ${e.step}/${e.total} loss ${lossAvg.toFixed(4)} lr ${e.lr.toExponential(2)} ${e.examples_per_s.toFixed(1)} ex/s`);
      }
    } else if (e.type === 'prune') {
      const line = `${label}pruned (${e.method}) @ step ${e.step} (epoch ${e.epoch.toFixed(2)}): target ${(100 * e.target).toFixed(1)}%, ` +
        `achieved ${(100 * e.achieved).toFixed(2)}% in ${e.seconds.toFixed(1)} s`;
      if (bar) { bar.stop(); console.error(line); bar.start(lastTotal, lastStep, payload); } else if (enabled) console.error(line);
    } else if (e.type === 'prune_progress') {
      if (bar) bar.update(lastStep, { ...payload, eps: `fisher ${e.done}/${e.total}` });
    } else if (e.type === 'eval') {
      const line = `${label}eval @ step ${e.step}: ${formatEvalMetrics(e.metrics)} (${e.seconds.toFixed(1)} s)`;
      if (bar) { bar.stop(); console.error(line); if (lastStep < lastTotal) { bar.start(lastTotal, lastStep, payload); } else bar = null; }
      else console.error(line);
    }
  };
  return { onEvent, stop: () => { bar?.stop(); bar = null; } };
}
