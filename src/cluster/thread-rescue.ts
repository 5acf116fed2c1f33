/**
 * Runs one expression inside a worker thread whose event loop is stuck.
 *
 * A worker stuck in a busy loop never reads its messages, and ending it with
 * Worker.terminate() while any uWebSockets.js socket of its thread is open
 * aborts the whole process. The inspector is the one way into such a
 * thread: V8 dispatches inspector messages by interrupting running JS, so
 * Runtime.evaluate runs even inside `for (;;) {}`. The primary uses it to
 * make the thread close its own sockets before it is terminated.
 */
import { Session } from 'node:inspector';

/** The global function every worker installs for this (see worker-main). */
export const RESCUE_GLOBAL = '__sluiceCloseSockets';

interface AttachedEvent {
  /** workerInfo.workerId is the inspector's own numbering; the title carries the threadId. */
  params: { sessionId: string; workerInfo: { title: string } };
}
interface WorkerReply {
  params: { sessionId: string; message: string };
}

/**
 * Calls globalThis[RESCUE_GLOBAL](workerId, reason) in the thread with this
 * threadId. Resolves true once it returned true there, false if it threw,
 * was missing, or the thread did not answer within timeoutMs.
 */
export function rescueThread(threadId: number, workerId: number, reason: string, timeoutMs: number): Promise<boolean> {
  const session = new Session();
  session.connect();
  return new Promise<boolean>((resolve) => {
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      session.disconnect();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    const call = `globalThis[${JSON.stringify(RESCUE_GLOBAL)}]?.(${workerId}, ${JSON.stringify(reason)}) === true`;
    let target: string | undefined;
    session.on('NodeWorker.attachedToWorker', ({ params }: AttachedEvent) => {
      if (params.workerInfo.title !== `[worker ${threadId}]` || target) return;
      target = params.sessionId;
      const message = JSON.stringify({ id: 1, method: 'Runtime.evaluate', params: { expression: call, returnByValue: true } });
      session.post('NodeWorker.sendMessageToWorker', { sessionId: target, message });
    });
    session.on('NodeWorker.receivedMessageFromWorker', ({ params }: WorkerReply) => {
      if (params.sessionId !== target) return;
      const reply = JSON.parse(params.message) as { id?: number; result?: { result?: { value?: unknown } } };
      if (reply.id === 1) finish(reply.result?.result?.value === true);
    });
    session.post('NodeWorker.enable', { waitForDebuggerOnStart: false }, (err) => {
      if (err) finish(false);
    });
  });
}
