/** `mosaicbert/io`: tensor files and the formats they come in (safetensors, PyTorch zip checkpoints, the safe unpickler). */
export { readSafetensors, parseSafetensors, writeSafetensors, serializeSafetensors, type Tensor } from './safetensors.js';
export { ZipReader, fileSource, memorySource, type ZipEntry, type ByteSource } from './zip.js';
export { unpickle, UnpicklingError, SafeCallable, PyGlobal, PyDict, isTuple, type UnpickleOptions } from './pickle.js';
export { readTorchCheckpoint, readTorchStateDict, parseTorchCheckpoint, materializeTensor, looksLikeTorchCheckpoint, TorchStorage, TorchTensorRef, type TorchCheckpoint, type TorchDType } from './torch_pickle.js';
