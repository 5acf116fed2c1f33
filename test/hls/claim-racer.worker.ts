/** One of several threads claiming the same stream's HLS at once (ownership.test.ts): posts its token, or 0. */
import { parentPort, workerData } from 'node:worker_threads';
import { claimHls } from '../../src/hls/ownership.js';

const { sab, id } = workerData as { sab: SharedArrayBuffer; id: number };
const ctl = new Int32Array(sab, 0, 32);
// Word 31 (past the ring's control words) is the starting gun.
Atomics.wait(ctl, 31, 0);
parentPort!.postMessage(claimHls(ctl, id, Date.now(), 3000) ?? 0);
