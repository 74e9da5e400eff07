// Write, checkpoint, read back, finish, reopen. Run: node examples/quickstart.mjs [dir]
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { Manager, Geometry, FileState } from 'mmap-aof';

const dir = process.argv[2] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'aof-example-'));
const manager = new Manager(dir);

// 64 KiB to start, grow in 1 MiB steps, never past 64 MiB.
const aof = manager.open('events.aof', Geometry.create().with(64 * 1024, 64 * 1024 * 1024, 1024 * 1024));
aof.write('{"event":"start"}\n');            // a copy into the mapping: no syscall
aof.write(Buffer.from('{"event":"tick"}\n'));
const at = aof.checkpoint();                  // recovery never rolls back past this
aof.append(64, (ev) => ev.tail.write('{"event":"in-place"}\n')); // fill reserved bytes in place
await aof.sync();                             // durable: survives a power loss

console.log('size', aof.size, 'checkpoint at', at);
console.log(aof.view().toString().replace(/[^\x20-\x7e\n]/g, '.'));

await aof.finish();                           // final marker, truncate, read-only
await manager.close();

const again = new Manager(dir);
const finished = again.open('events.aof');     // a finished file opens read-only, state EOF
console.log('reopened:', finished.state === FileState.EOF ? 'finished' : 'open', finished.size, 'bytes');
await again.close();
