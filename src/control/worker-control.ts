/**
 * A worker's side of the control plane: the primary's admin API asks for
 * a snapshot, kicks a client, or drops a stream's publisher. Every forced
 * close is logged with its reason by the session or player it ends.
 */
import { pack } from 'msgpackr';
import type { ClientProtocol, WorkerAnswers, WorkerRequest } from '../cluster/messages.js';
import type { ServerContext } from '../app/context.js';
import { clientId } from '../app/client-id.js';
import { workerSnapshot } from './snapshot.js';

export function answerRequest<R extends WorkerRequest>(ctx: ServerContext, m: R): WorkerAnswers[R['t']];
export function answerRequest(ctx: ServerContext, m: WorkerRequest): WorkerAnswers[WorkerRequest['t']] {
  switch (m.t) {
    case 'snapshot':
      return pack(workerSnapshot(ctx, m.clients ?? true));
    case 'kick':
      return kickClient(ctx, m.protocol, m.id, m.reason);
    case 'dropPublisher':
      return dropPublisher(ctx, m.key, m.reason);
  }
}

/** Closes one client of this worker; false if it is not (or no longer) here. */
export function kickClient(ctx: ServerContext, protocol: ClientProtocol, id: number, reason: string): boolean {
  if (protocol === 'rtmp') {
    const s = ctx.sessions.get(id);
    if (!s) return false;
    ctx.log.info({ clientId: clientId(ctx.workerId, protocol, id), protocol, reason }, 'closing client on request');
    s.close(reason);
    return true;
  }
  for (const p of ctx.flvPlayers) {
    if (p.id !== id || p.protocol !== protocol) continue;
    ctx.log.info({ clientId: clientId(ctx.workerId, protocol, id), protocol, reason }, 'closing client on request');
    p.close(reason);
    return true;
  }
  return false;
}

/** Closes the session publishing `key` here; false if nobody publishes it on this worker. */
export function dropPublisher(ctx: ServerContext, key: string, reason: string): boolean {
  const stream = ctx.hub.list().find((s) => s.key === key);
  const owner = stream?.publisher;
  const session = owner === undefined ? undefined : ctx.sessions.get(owner);
  if (!session || owner === undefined) return false;
  ctx.log.info({ clientId: clientId(ctx.workerId, 'rtmp', owner), streamKey: key, reason }, 'dropping publisher on request');
  session.close(reason);
  return true;
}
