export { Log, type LogOptions, type LogRecord } from './log.js';
