export { AOF, type AppendEvent, type AppendFunc } from './aof.js';
export { FileState } from './file-state.js';
export type { WriteStreamOptions } from './write-stream.js';
export { AofError, ErrorCode } from './errors.js';
export { Geometry, MAX_FILE_SIZE, KiB, MiB, GiB, type GeometryFields } from './geometry.js';
export { Manager, type ManagerOptions, type OpenAsyncOptions } from './manager.js';
export {
  MAGIC_CHECKPOINT,
  MAGIC_CHECKPOINT_BYTES,
  MAGIC_TAIL,
  MAGIC_TAIL_BYTES,
  RecoveryKind,
  recoverWithMagic,
  type RecoveryFunc,
  type RecoveryHint,
  type RecoveryResult,
} from './recovery.js';
export type { Stats, TimeCounter } from './stats.js';
export {
  STOP,
  TailIterator,
  Tailer,
  TailerState,
  type CloseReason,
  type Consumer,
  type ReadEvent,
  type ReadStreamOptions,
  type SubscribeOptions,
  type TailOptions,
} from './tailer.js';
export { crc32c } from './checksum.js';
export { Reader, openReader, type ReaderOptions, type WakeMode } from './reader.js';
export { CONTROL_SUFFIX, ControlState } from './control-block.js';
export { Log, LogReader, type LogOpenOptions, type LogOptions, type LogRecord } from './log/index.js';
export { StateLog, type Restored, type RestoreOptions, type StateLogOptions } from './state-log.js';
