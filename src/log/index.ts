export { Log, type LogOptions } from './log.js';
export { LogReader, type LogRecord } from './log-reader.js';
