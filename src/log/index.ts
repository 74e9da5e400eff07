export { Log, type LogOptions, type LogRecord } from './log.js';
export { LogReader } from './log-reader.js';
