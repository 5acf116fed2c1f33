/**
 * The workers' HLS channel takes what another thread posts without trust:
 * a message that breaks its handler (a malformed state, an unknown kind)
 * is logged with the stream key and dropped, and the channel goes on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/app/log.js';
import { HlsShare, type ShareMessage } from '../../src/http/hls-share.js';
import { StateDecoder } from '../../src/http/hls-wire.js';
import { waitFor } from '../helpers/net.js';

test('a malformed message from another worker is logged and dropped; the channel goes on', async () => {
  const name = `test-hls-${randomUUID()}`;
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('warn', new Writable({ write: (c: Buffer, _e, done) => (lines.push(JSON.parse(c.toString())), done()) }));
  const wants: string[] = [];
  const decoder = new StateDecoder();
  const rx = new HlsShare(name, {
    want: (key) => wants.push(key),
    // What a mirror does with a state: decode it (a state without a view throws).
    state: (_key, _token, state) => void decoder.decode(state),
    gone: () => {},
  }, log);
  const tx = new HlsShare(name, { want: () => {}, state: () => {}, gone: () => {} }, log);
  try {
    tx.post({ t: 'state', key: 'live/bad', token: 7, state: {} } as unknown as ShareMessage);
    tx.post({ t: 'nonsense', key: 'live/odd' } as unknown as ShareMessage);
    tx.post({ t: 'want', key: 'live/good', token: 7, idleMs: 0, full: true });
    await waitFor(() => wants.length === 1, 2000, 'the good message after the bad ones');
    assert.deepEqual(wants, ['live/good']);
    await waitFor(() => lines.length >= 1, 2000, 'the bad state logged');
    const bad = lines.find((l) => l.streamKey === 'live/bad');
    assert.ok(bad, JSON.stringify(lines));
    assert.equal(bad.code, 'ERR_INTERNAL');
    assert.match(String(bad.msg), /state from another worker failed/);
  } finally {
    rx.close();
    tx.close();
  }
});
