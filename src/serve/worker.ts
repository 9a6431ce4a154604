/**
 * The model worker (a `node:worker_threads` Worker started by src/serve/worker_host.ts): loads the model folder
 * (`workerData`: {@link WorkerInit}) into an {@link Engine}, warms it up, says `ready` with the model's summary, then
 * runs each `run` message's batch and answers with its results (typed-array buffers transferred) or its error. It is
 * the only thread of the server that calls the native kernels, so their thread pool is driven from here alone.
 * Messages arrive one batch at a time (the batcher runs one batch at a time).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Engine } from './engine.js';
import { toWire, transferables, type FromWorker, type ToWorker, type WorkerInit } from './worker_protocol.js';

const port = parentPort;
if (!port) throw new Error('src/serve/worker.ts runs as a worker thread (started by WorkerHost)');
const post = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

const init = workerData as WorkerInit;
let exitOnNextBatch: number | null = null;
let nextBatchHook: { hold: Int32Array | null } | null = null;
const t0 = performance.now();
try {
  const engine = await Engine.load(init.dir, { ...init.opts, warn: (message) => post({ type: 'warn', message }) });
  await engine.warmUp();
  port.on('message', (m: ToWorker) => {
    if (m.type === 'test-exit-on-next-batch') { exitOnNextBatch = m.code; return; }
    if (m.type === 'test-next-batch') { nextBatchHook = { hold: m.hold }; return; }
    if (exitOnNextBatch !== null) process.exit(exitOnNextBatch);
    if (nextBatchHook) {
      const { hold } = nextBatchHook;
      nextBatchHook = null;
      post({ type: 'test-batch-started' });
      if (hold) Atomics.wait(hold, 0, 0);
    }
    engine.run(m.key, m.payloads).then(
      (results) => post({ type: 'result', id: m.id, results }, transferables(results)),
      (e: unknown) => post({ type: 'error', id: m.id, error: toWire(e) }));
  });
  post({ type: 'ready', summary: engine.summary(), loadMs: performance.now() - t0 });
} catch (e) {
  post({ type: 'load-error', error: toWire(e) });
}
