/** The launch environment and the error of a build without Open MPI (no MPI needed). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectiveTimeoutMs, launchEnvironment, mpiAddon } from '../../src/distributed/mpi.js';

test('launchEnvironment reads mpirun variables; null outside mpirun', () => {
  assert.equal(launchEnvironment({}), null);
  assert.deepEqual(launchEnvironment({ OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_RANK: '3', OMPI_COMM_WORLD_LOCAL_SIZE: '2' }),
    { rank: 3, size: 4, localSize: 2 });
  assert.deepEqual(launchEnvironment({ OMPI_COMM_WORLD_SIZE: '2', OMPI_COMM_WORLD_RANK: '0' }), { rank: 0, size: 2, localSize: 2 });
});

test('a missing MPI addon names the file, what to install and how to rebuild', () => {
  assert.throws(() => mpiAddon('/nonexistent/mosaicbert_mpi.node'),
    /\/nonexistent\/mosaicbert_mpi\.node.*not built because Open MPI was not found.*apt-get install -y libopenmpi-dev openmpi-bin.*npm run build:native/);
});

test('MOSAICBERT_MPI_TIMEOUT: seconds > 0, default 900', () => {
  assert.equal(collectiveTimeoutMs({}), 900e3);
  assert.equal(collectiveTimeoutMs({ MOSAICBERT_MPI_TIMEOUT: '2.5' }), 2500);
  assert.throws(() => collectiveTimeoutMs({ MOSAICBERT_MPI_TIMEOUT: 'soon' }), /MOSAICBERT_MPI_TIMEOUT: expected seconds > 0, got 'soon'/);
});
