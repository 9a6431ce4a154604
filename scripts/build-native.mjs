// Builds the C++ addon (build/Release/mosaicbert.node) with node-gyp, offline: node-gyp is pointed at the
// headers of the Node that runs this script (<prefix>/include/node), so it never downloads them.
// `--incremental` runs `node-gyp build` (make) when the build folder is configured, else a full rebuild.
// Builds are serialised with a lock file so that parallel invocations do not trample each other.
// With Open MPI installed (mpicxx and mpi.h, scripts/mpi-config.mjs) it also builds build/Release/mosaicbert_mpi.node,
// the bindings of data-parallel training; without it only the kernel addon is built, as before.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, unlinkSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mpiConfig } from './mpi-config.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const prefix = dirname(dirname(process.execPath));
const headers = join(prefix, 'include', 'node', 'node_api.h');
const args = [];
if (existsSync(headers)) args.push(`--nodedir=${prefix}`);
else console.warn(`mosaicbert: no Node headers at ${headers}; node-gyp will use its own (may need the network)`);

// node-gyp fixes the source list at configure time: an incremental build is only valid while it is unchanged.
const listSources = () => ['avx2', 'portable'].map((k) => spawnSync(process.execPath,
  [join(root, 'scripts', 'list-sources.mjs'), k], { encoding: 'utf8' }).stdout.trim()).join('\n');
const stamp = join(root, 'build', '.sources');
const mpi = mpiConfig();
const sources = listSources() + (mpi ? '\nmpi' : '');
console.error(mpi ? 'mosaicbert: Open MPI found (mpicxx): building the MPI addon for data-parallel training too'
  : 'mosaicbert: Open MPI not found: single-process build (for mpirun: apt-get install -y libopenmpi-dev openmpi-bin, then npm run build:native)');
const incremental = process.argv.includes('--incremental') && existsSync(join(root, 'build', 'Makefile')) &&
  existsSync(stamp) && readFileSync(stamp, 'utf8') === sources;
const cmd = incremental ? ['build', ...args] : ['rebuild', ...args];

// A crude inter-process lock (O_EXCL file); stale after 15 minutes.
const lock = join(root, '.tmp', 'build-native.lock');
mkdirSync(dirname(lock), { recursive: true });
const t0 = Date.now();
for (;;) {
  try { closeSync(openSync(lock, 'wx')); break; } catch {
    try { if (Date.now() - statSync(lock).mtimeMs > 15 * 60e3) unlinkSync(lock); } catch { /* gone */ }
    if (Date.now() - t0 > 20 * 60e3) { console.error('mosaicbert: build lock held too long: ' + lock); process.exit(1); }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
  }
}
let status = 1;
try {
  const localGyp = join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const r = existsSync(localGyp)
    ? spawnSync(process.execPath, [localGyp, ...cmd], { cwd: root, stdio: 'inherit' })
    : spawnSync('node-gyp', cmd, { cwd: root, stdio: 'inherit', shell: true });
  status = r.status ?? 1;
  if (status === 0) writeFileSync(stamp, sources);
} finally {
  try { unlinkSync(lock); } catch { /* ignore */ }
}
process.exit(status);
