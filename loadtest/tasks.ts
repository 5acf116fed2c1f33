/**
 * The piscina worker entry: one task is one group of clients (publishers
 * or players) for the whole run. Returns the task's envelope, msgpackr
 * bytes (messages.ts).
 */
import type { TaskInput } from './messages.js';
import { runPlayerTask } from './player-task.js';
import { runPublisherTask } from './publisher-task.js';

export default function runTask(input: TaskInput): Promise<Uint8Array> {
  return input.kind === 'publish' ? runPublisherTask(input) : runPlayerTask(input);
}
