/**
 * The `aof` command (bin/aof.js runs {@link run}): append, read, follow, inspect and recover AOF
 * files and record logs, look at a directory, run the benchmarks, serve a directory over HTTP.
 *
 * Exit status: 0 done; 1 an error, printed as one line `aof: <code>: <message>` on stderr
 * (`<code>` an `ERR_AOF_*` code, or the system error's code); 2 a usage error (commander's
 * message, one line). Output goes to stdout; stderr only carries errors and, on a terminal,
 * progress bars.
 */
import { Command, CommanderError, Option } from 'commander';
import { append } from './commands/append.js';
import { bench } from './commands/bench.js';
import { cat } from './commands/cat.js';
import { inspect } from './commands/inspect.js';
import { mirrorCommand, shipCommand } from './commands/nats.js';
import { recover } from './commands/recover.js';
import { serve } from './commands/serve.js';
import { stats } from './commands/stats.js';
import { tail } from './commands/tail.js';
import { parseByteCount, parseCount, parseLineCount, parsePort, parseShip, parseSize } from './arguments.js';
import { errorLine } from './output.js';
import { packageVersion } from './package-root.js';

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();

/** The commander program; `setStatus` receives a command's own exit status (bench). */
export function buildProgram(setStatus: (status: number) => void): Command {
  const program = new Command('aof')
    .description('Memory-mapped append-only files (AOF) and record logs: append, read, follow, inspect, recover, serve.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`aof: ${oneLine(str.replace(/^error: /, ''))}\n`) })
    .addHelpText('after', `
A FILE is a path to an AOF file; a DIR given to cat, tail or inspect is read as a record log.
Errors print one line "aof: <code>: <message>" and exit 1; usage errors exit 2.`);

  program.command('append')
    .description('append stdin to FILE (created with its directory if missing), chunk by chunk, and sync; ' +
      'with --records, append each stdin line as a record of the record log in DIR')
    .argument('<file>', 'the AOF file (with --records: the record log directory)')
    .option('-r, --records', 'each line (without its "\\n") is a record of the record log in DIR; one batch per chunk read')
    .option('--sync', 'make each chunk (with --records: each batch) durable before reading the next')
    .addOption(new Option('--finish', 'finish the file at the end (final marker, read-only)').conflicts('records'))
    .addOption(new Option('--max-size <size>', 'largest size the file may grow to (e.g. 64m; default 4g)').argParser(parseSize).conflicts('records'))
    .option('--segment-size <size>', 'with --records: segment size of a new log (default 64m)', parseSize)
    .option('--max-record-size <size>', 'with --records: longest record (default 1m)', parseSize)
    .option('-q, --quiet', 'print nothing on success (default: a one-line summary on stdout)')
    .option('-w, --wait [ms]', 'when another writer holds the file (or log), wait for it to let go: --wait=MS for up to MS ' +
      'milliseconds, --wait alone (after FILE) until SIGINT/SIGTERM (default: fail at once with ERR_AOF_LOCKED)', parseCount)
    .action((file: string, options) => append(file, options));

  program.command('cat')
    .description('write the content of each FILE, raw, as it is stored (checkpoint markers included unless --no-checkpoints), ' +
      'or the records of the log in DIR, one per line, to stdout')
    .argument('<paths...>', 'AOF files or record log directories, written one after the other')
    .option('--from <n>', 'start at byte offset n (a record log: at id n)', parseCount)
    .option('-r, --records', 'read each PATH as a record log directory (the default for a directory)')
    .option('--ids', "record log: print each record's id and a tab before it")
    .option('--no-checkpoints', 'drop the 8-byte checkpoint markers that start a line (written by aof.checkpoint()), ' +
      'so that line-oriented tools (jq) read the file')
    .action((paths: string[], options) => cat(paths, options));

  program.command('tail')
    .description('write the end of FILE (or the last records of the log in DIR) to stdout; with -f, follow what the writer appends')
    .argument('<path>', 'an AOF file, or a record log directory')
    .option('-f, --follow', 'keep writing what is appended, until the file is finished or SIGINT/SIGTERM (a log: until the signal)')
    .option('-F, --retry', 'as -f, and wait for the file to exist, and after a rotation (a new file at the path) or a finish go on with the next file there, until SIGINT/SIGTERM')
    .option('-n, --lines <n>', 'the last n lines (a record log: the last n records); +n: from line (record) n on', parseLineCount)
    .option('-c, --bytes <n>', 'the last n bytes instead of lines (units as 64k); +n: from byte n on (1-based)', parseByteCount)
    .option('--from <n>', 'from byte offset n (a record log: from id n) instead of the last lines', parseCount)
    .option('-r, --records', 'read PATH as a record log directory (the default for a directory)')
    .option('--ids', "record log: print each record's id and a tab before it")
    .action((path: string, options) => tail(path, options));

  program.command('inspect')
    .description('show what recovery finds in FILE and what opening it would do: sizes, state, control block, ' +
      'checkpoint markers (a DIR: each segment of the record log); never changes anything')
    .argument('<path>', 'an AOF file, or a record log directory')
    .option('--json', 'print JSON')
    .action((path: string, options) => inspect(path, options));

  program.command('recover')
    .description('open FILE for writing (recovery zeroes a torn write and writes the tail magic), sync, close, and report what changed')
    .argument('<file>', 'the AOF file (no other process may be writing it)')
    .option('--json', 'print JSON')
    .action((file: string, options) => recover(file, options));

  program.command('stats')
    .description('status, sizes and live writer of every AOF file in DIR (read-only), and totals')
    .argument('<dir>', 'a directory of AOF files')
    .option('--json', 'print JSON')
    .action((dir: string, options) => stats(dir, options));

  program.command('bench')
    .description('run the benchmarks (bench/run.mjs of a source checkout; results saved in bench/results/)')
    .argument('[names...]', 'only these benchmarks (e.g. write tail); default all')
    .action(async (names: string[]) => setStatus(await bench(names)));

  program.command('serve')
    .description('serve the AOFs in a directory over HTTP until SIGINT/SIGTERM')
    .option('--dir <dir>', 'the data directory', './data')
    .option('--port <port>', 'the TCP port (0: any free port)', parsePort, 8080)
    .option('--host <host>', 'the address to listen on (default: the service\'s)')
    .option('--body-limit <size>', 'largest request body (units as 8m; default 8m); larger ones get 413', parseSize)
    .option('--heartbeat <ms>', 'comment lines to idle SSE clients this often (default 15000; 0: never)', parseCount)
    .option('--stats-interval <ms>', 'default period of GET /stats/events (default 1000)', parseCount)
    .option('--shutdown-timeout <ms>', 'how long SIGINT/SIGTERM waits for in-flight requests (default 10000)', parseCount)
    .option('--ship <name=stream:subject>', 'ship the record stream NAME to SUBJECT of the NATS JetStream stream STREAM (repeatable)', parseShip, [])
    .option('--nats <urls>', 'NATS servers for --ship, comma-separated (default 127.0.0.1:4222)')
    .action((options) => serve(options));

  program.command('ship')
    .description('publish every record of the log in DIR to a NATS JetStream subject, exactly once and in order, from where the stream ends, until SIGINT/SIGTERM (needs @nats-io/transport-node and @nats-io/jetstream)')
    .argument('<dir>', 'a record log directory')
    .requiredOption('--stream <name>', 'the JetStream stream that holds the subject')
    .requiredOption('--subject <subject>', 'the subject the records go to (one log per subject)')
    .option('--servers <urls>', 'NATS servers, comma-separated', '127.0.0.1:4222')
    .option('--window <n>', 'publishes in flight at most (default 256)', parseCount)
    .option('--from <id>', 'the first record when the subject holds none (default: the first)', parseCount)
    .action((dir: string, options) => shipCommand(dir, options));

  program.command('mirror')
    .description('copy a NATS JetStream stream into the record log in DIR (id = stream sequence), acknowledging what is durable, until SIGINT/SIGTERM')
    .argument('<dir>', 'the local record log directory (created when missing)')
    .requiredOption('--stream <name>', 'the JetStream stream to copy')
    .option('--servers <urls>', 'NATS servers, comma-separated', '127.0.0.1:4222')
    .option('--durable <name>', 'the durable consumer\'s name (default aof-mirror)')
    .action((dir: string, options) => mirrorCommand(dir, options));

  return program;
}

/** Runs the command line `argv` (as process.argv: node, script, args…); resolves to the exit status. */
export async function run(argv: string[] = process.argv): Promise<number> {
  let status = 0;
  // Errors of stdout writes (EPIPE) reach the write callbacks; without a listener they would throw.
  process.stdout.on('error', () => {});
  const program = buildProgram((s) => (status = s));
  try {
    await program.parseAsync(argv);
    return status;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    // The reader of our stdout went away (`aof cat f | head`): stop quietly.
    if ((e as NodeJS.ErrnoException | null)?.code === 'EPIPE') return 0;
    process.stderr.write(errorLine(e));
    return 1;
  }
}
