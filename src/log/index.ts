export { Log, type LogOpenOptions, type LogOptions } from './log.js';
export { LogReader, type LogRecord } from './log-reader.js';
