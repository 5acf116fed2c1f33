import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectResult, decodeCommand, onStatus, unwrapSetDataFrame } from '../../src/protocol/commands.js';
import { decodeAmf0, encodeAmf0 } from '../../src/protocol/amf0.js';
import { amfObject, ecmaArray } from '../../src/protocol/amf-types.js';

test('decodeCommand: AMF0 connect', () => {
  const payload = encodeAmf0(['connect', 1, amfObject({ app: 'live', objectEncoding: 0 })]);
  const c = decodeCommand(20, payload);
  assert.equal(c.name, 'connect');
  assert.equal(c.transactionId, 1);
  assert.equal(c.object!.app, 'live');
  assert.deepEqual(c.args, []);
});

test('decodeCommand: AMF3 command message (type 17) skips its leading format byte', () => {
  const payload = Buffer.concat([Buffer.from([0]), encodeAmf0(['play', 4, null, 'cam1'])]);
  const c = decodeCommand(17, payload);
  assert.deepEqual([c.name, c.transactionId, c.object, c.args], ['play', 4, null, ['cam1']]);
});

test('decodeCommand: a non-string name is ERR_COMMAND', () => {
  assert.throws(() => decodeCommand(20, encodeAmf0([3, 1])), { code: 'ERR_COMMAND' });
});

test('unwrapSetDataFrame slices the wrapper off byte for byte', () => {
  const inner = encodeAmf0(['onMetaData', ecmaArray({ width: 320, height: 240 })]);
  const wrapped = Buffer.concat([
    Buffer.from('02000d40736574446174614672616d65', 'hex'), // string marker, len 13, "@setDataFrame"
    inner,
  ]);
  assert.deepEqual(Buffer.from(unwrapSetDataFrame(wrapped)), inner);
  assert.equal(unwrapSetDataFrame(inner), inner, 'plain onMetaData is left alone');
});

test('connect _result echoes objectEncoding and says Connect.Success', () => {
  const m = connectResult(1, 3, '1.2.3');
  const [name, txn, props, info] = decodeAmf0(m.payload) as [string, number, Record<string, unknown>, Record<string, unknown>];
  assert.deepEqual([name, txn, m.header.streamId, m.header.type], ['_result', 1, 0, 20]);
  assert.equal(props.fmsVer, 'FMS/3,5,7,7009');
  assert.equal(info.code, 'NetConnection.Connect.Success');
  assert.equal(info.objectEncoding, 3);
});

test('onStatus goes on the stream it concerns', () => {
  const m = onStatus(1, 'error', 'NetStream.Publish.BadName', 'taken');
  const [name, , , info] = decodeAmf0(m.payload) as [string, number, null, Record<string, unknown>];
  assert.equal(name, 'onStatus');
  assert.equal(m.header.streamId, 1);
  assert.deepEqual([info.level, info.code], ['error', 'NetStream.Publish.BadName']);
});
