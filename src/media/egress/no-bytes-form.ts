import type { EgressForm } from '../types.js';

/**
 * A form with no bytes, for a reader that needs a player's events (the
 * stream going live, its end) and not the media: an HLS mirror, whose
 * owner on another worker reads the media. Every record "builds" to one
 * shared empty buffer, so reading costs no copy and no allocation.
 */
const NONE = Buffer.alloc(0);

export const noBytesForm: EgressForm = { id: 'no-bytes', opensAtZero: false, build: () => NONE, buildSticky: () => NONE };
