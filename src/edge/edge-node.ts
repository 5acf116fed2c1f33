/**
 * Wires a worker's upstreams: pulls on an edge (mode edge) or on an origin
 * of a Redis cluster, and forward and relay push around publishes (mode
 * edge, or relay.push rules).
 */
import type { ServerContext } from '../app/context.js';
import { EdgePuller } from './edge-puller.js';
import { PushManager } from './push-manager.js';
import { UpstreamSet } from './upstream-set.js';
import { pullsStreams } from '../app/config-views.js';

export function enableEdge(ctx: ServerContext): void {
  const edge = ctx.config.mode === 'edge';
  const pulls = pullsStreams(ctx.config);
  if (!edge && !pulls && ctx.config.relay.push.length === 0) return;
  const upstreams = new UpstreamSet();
  ctx.upstreams = upstreams;
  if (pulls) ctx.hub.pulls = new EdgePuller(ctx, upstreams);
  ctx.streams.hooks = new PushManager(ctx, upstreams);
}
