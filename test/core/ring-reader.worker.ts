// Reader thread for the tag-ring concurrency test: follows the writer,
// validating each copied tag only if it was still intact after the copy.
import { parentPort, workerData } from 'node:worker_threads';
import { newRecordView, seqBefore, TagRing } from '../../src/core/tag-ring.js';

const data = workerData as { sab: SharedArrayBuffer; ready: SharedArrayBuffer };
const ring = TagRing.attach(data.sab);
const ready = new Int32Array(data.ready);
Atomics.store(ready, 0, 1);
Atomics.notify(ready, 0);
const v = newRecordView();
let seq = 0;
let checked = 0;
let torn = 0;
let lapped = 0;
for (;;) {
  const head = ring.head();
  if (!seqBefore(seq, head)) {
    if (ring.closed() && !seqBefore(seq, ring.head())) break;
    continue;
  }
  if (seqBefore(seq, ring.tail()) || !ring.read(seq, v)) {
    lapped++;
    seq = ring.tail();
    continue;
  }
  const copy = Buffer.from(ring.body(v));
  if (!ring.intact(seq)) {
    lapped++;
    continue;
  }
  const n = copy.readUInt32BE(0);
  let ok = n === seq && copy.length === 50 + (seq % 200);
  for (let i = 4; ok && i < copy.length; i++) if (copy[i] !== (seq & 0xff)) ok = false;
  if (!ok) torn++;
  checked++;
  if ((checked & 255) === 0) Atomics.store(ready, 1, checked);
  seq++;
}
parentPort!.postMessage({ checked, torn, lapped });
