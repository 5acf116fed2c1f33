/**
 * Wires a worker's upstreams: pulls on an edge (mode edge), and forward
 * and relay push around publishes (mode edge, or relay.push rules).
 */
import type { ServerContext } from '../app/context.js';
import { EdgePuller } from './edge-puller.js';
import { PushManager } from './push-manager.js';
import { UpstreamSet } from './upstream-set.js';

export function enableEdge(ctx: ServerContext): void {
  const edge = ctx.config.mode === 'edge';
  if (!edge && ctx.config.relay.push.length === 0) return;
  const upstreams = new UpstreamSet();
  ctx.upstreams = upstreams;
  if (edge) ctx.hub.pulls = new EdgePuller(ctx, upstreams);
  ctx.streams.hooks = new PushManager(ctx, upstreams);
}
