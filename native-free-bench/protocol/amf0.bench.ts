/**
 * AMF0 on the two bodies every session meets: ffmpeg's `connect` command
 * (captured from the socket) and its @setDataFrame/onMetaData (ffmpeg's
 * own bytes, fixtures.ts). Ops/s of decode and of encode.
 *
 * Decode: sluice's decodeCommand / decodeData (what the session calls:
 * AMF0 values with limits checked) vs node-media-server's decodeAmf0Cmd /
 * decodeAmf0Data (protocol/amf.js) on the same bytes; both results are
 * checked to hold the same values first.
 * Encode: the decoded values back to bytes, encodeAmf0 vs NMS's
 * encodeAmf0Cmd / encodeAmf0Data. For connect both write the captured bytes
 * exactly; for onMetaData NMS writes the ECMA array as an anonymous object
 * (marker 03, no count), 4 bytes shorter.
 */
import { encodeAmf0 } from '../../src/protocol/amf0.js';
import { decodeCommand, decodeData } from '../../src/protocol/commands.js';
import { MessageType } from '../../src/protocol/types.js';
import { point, same, sink, type Bench, type Row } from '../bench.js';
import { CONNECT_COMMAND, SET_DATA_FRAME } from '../fixtures.js';
import { NmsAmf } from '../nms.js';

const OPS = { label: 'ops/s', perOp: 1 };

function run(): Row[] {
  const rows: Row[] = [];

  // connect: "connect", transaction id, command object.
  const cmd = decodeCommand(MessageType.CommandAmf0, CONNECT_COMMAND);
  const nmsCmd = NmsAmf.decodeAmf0Cmd(CONNECT_COMMAND);
  same('decoded connect', [cmd.name, cmd.transactionId, cmd.object], [nmsCmd.cmd, nmsCmd.transId, nmsCmd.cmdObj]);
  rows.push(...point('amf0', 'decode connect', OPS, [
    { name: 'decodeCommand', side: 'sluice', op: () => { sink.value += decodeCommand(MessageType.CommandAmf0, CONNECT_COMMAND).transactionId; } },
    { name: 'node-media-server decodeAmf0Cmd', side: 'baseline', op: () => { sink.value += NmsAmf.decodeAmf0Cmd(CONNECT_COMMAND).transId as number; } },
  ]));

  const values = [cmd.name, cmd.transactionId, cmd.object];
  const nmsOpt = { cmd: 'connect', transId: 1, cmdObj: nmsCmd.cmdObj };
  same('encoded connect', encodeAmf0(values).toString('hex'), CONNECT_COMMAND.toString('hex'));
  same('NMS-encoded connect', NmsAmf.encodeAmf0Cmd(nmsOpt).toString('hex'), CONNECT_COMMAND.toString('hex'));
  rows.push(...point('amf0', 'encode connect', OPS, [
    { name: 'encodeAmf0', side: 'sluice', op: () => { sink.value += encodeAmf0(values).length; } },
    { name: 'node-media-server encodeAmf0Cmd', side: 'baseline', op: () => { sink.value += NmsAmf.encodeAmf0Cmd(nmsOpt).length; } },
  ]));

  // @setDataFrame, onMetaData, ECMA array of 13 entries.
  const meta = decodeData(MessageType.DataAmf0, SET_DATA_FRAME);
  const nmsMeta = NmsAmf.decodeAmf0Data(SET_DATA_FRAME);
  same('decoded onMetaData', meta, [nmsMeta.cmd, nmsMeta.method, nmsMeta.dataObj]);
  rows.push(...point('amf0', 'decode onMetaData', OPS, [
    { name: 'decodeData', side: 'sluice', op: () => { sink.value += decodeData(MessageType.DataAmf0, SET_DATA_FRAME).length; } },
    { name: 'node-media-server decodeAmf0Data', side: 'baseline', op: () => { sink.value += Object.keys(NmsAmf.decodeAmf0Data(SET_DATA_FRAME)).length; } },
  ]));

  const nmsMetaOpt = { cmd: '@setDataFrame', method: 'onMetaData', dataObj: nmsMeta.dataObj };
  same('encoded onMetaData', encodeAmf0(meta).toString('hex'), SET_DATA_FRAME.toString('hex'));
  rows.push(...point('amf0', 'encode onMetaData', OPS, [
    { name: 'encodeAmf0', side: 'sluice', op: () => { sink.value += encodeAmf0(meta).length; } },
    { name: 'node-media-server encodeAmf0Data', side: 'baseline', op: () => { sink.value += NmsAmf.encodeAmf0Data(nmsMetaOpt).length; } },
  ]));

  return rows;
}

export const bench: Bench = {
  name: 'amf0',
  title: 'AMF0 decode/encode of ffmpeg connect and onMetaData vs node-media-server amf.js (ops/s)',
  run,
};
