// A writer in the main thread, a reader in a worker thread following it through the control
// block (a child process works the same way). Run: node examples/follow.mjs [dir]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Manager, openReader } from 'mmap-aof';

if (isMainThread) {
  const dir = process.argv[2] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'aof-follow-'));
  const manager = new Manager(dir);
  const aof = manager.open('events.aof');         // also creates events.aof-shm, the control block
  const worker = new Worker(new URL(import.meta.url), { workerData: path.join(dir, 'events.aof') });
  await new Promise((resolve) => worker.once('message', resolve)); // the reader is following

  for (let i = 1; i <= 3; i++) {
    aof.write(`{"event":${i}}\n`);                 // published when this run of writes ends
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await aof.finish();                              // the reader reaches EOF
  console.log('reader got:', await new Promise((resolve) => worker.once('message', resolve)));
  await manager.close();
} else {
  const reader = openReader(workerData); // wakes by the doorbell (inotify on the -shm)
  parentPort.postMessage('following');
  let text = '';
  for await (const ev of reader.tail({ from: 0 })) text += ev.tail.toString();
  await reader.close();
  parentPort.postMessage(text.trim().split('\n').join(' '));
}
