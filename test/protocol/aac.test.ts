import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildAacSequenceHeader, buildAudioSpecificConfig, parseAudioSpecificConfig } from '../../src/protocol/aac.js';
import { hex, throwsCode } from '../helpers/bytes.js';



test('AAC-LC 44100 stereo: the common two bytes', () => {
  // 00010 0100 0010 000 = AOT 2 (LC) | frequency index 4 (44100) | channels 2 | GASpecificConfig 0
  assert.deepEqual(parseAudioSpecificConfig(hex('1210')), {
    objectType: 2, sampleRate: 44100, channelConfig: 2, channels: 2, coreObjectType: 2, sbr: false, ps: false,
  });
});

test('ffmpeg AAC-LC: backward-compatible sync extension with sbrPresentFlag 0', () => {
  // Real sequence headers from the ffmpeg in node_modules (`-c:a aac`), after `af 00`:
  //   12 10 | 56 e5 00 = LC 44100 stereo | sync 0x2b7, AOT 5, sbrPresentFlag 0
  //   11 88 | 56 e5 00 = LC 48000 mono   | same extension
  const stereo = parseAudioSpecificConfig(hex('1210', '56e500'));
  assert.deepEqual([stereo.objectType, stereo.sampleRate, stereo.channels, stereo.sbr], [2, 44100, 2, false]);
  const mono = parseAudioSpecificConfig(hex('1188', '56e500'));
  assert.deepEqual([mono.objectType, mono.sampleRate, mono.channels, mono.sbr], [2, 48000, 1, false]);
});

test('HE-AAC explicit (object type 5): extension rate and core object type', () => {
  // 00101 0110 0010 0011 00010 000 = AOT 5 | 24000 | 2 ch | extension 48000 | core AOT 2 | GA
  const c = parseAudioSpecificConfig(hex('2b118800'));
  assert.deepEqual(c, {
    objectType: 5, sampleRate: 24000, channelConfig: 2, channels: 2, coreObjectType: 2,
    sbr: true, ps: false, extensionSampleRate: 48000,
  });
});

test('HE-AACv2 explicit (object type 29): parametric stereo', () => {
  // 11101 0110 0001 0011 00010 000 = AOT 29 | 24000 | 1 ch | extension 48000 | core AOT 2
  const c = parseAudioSpecificConfig(hex('eb098800'));
  assert.deepEqual([c.objectType, c.coreObjectType, c.channels, c.sbr, c.ps, c.extensionSampleRate], [29, 2, 1, true, true, 48000]);
});

test('HE-AAC backward-compatible: 0x2b7 SBR and 0x548 PS sync extensions', () => {
  // 00010 0110 0001 000 | 01010110111 00101 1 0011 | 10101001000 1
  // LC 24000 mono, GA | sync 0x2b7, AOT 5, sbrPresentFlag, 48000 | sync 0x548, psPresentFlag
  const c = parseAudioSpecificConfig(hex('130856e59d4880'));
  assert.deepEqual([c.objectType, c.sampleRate, c.sbr, c.extensionSampleRate, c.ps], [2, 24000, true, 48000, true]);
});

test('object type escape: 31 then 6 bits (32 + n)', () => {
  // 11111 001010 0100 0010 = escape | 10 -> AOT 42 (USAC) | 44100 | 2 ch
  const c = parseAudioSpecificConfig(hex('f94840'));
  assert.deepEqual([c.objectType, c.sampleRate, c.channels], [42, 44100, 2]);
});

test('frequency escape: index 15 then an explicit 24-bit rate', () => {
  // 00010 1111 000000001010101111100000 0001 000 = LC | escape | 44000 Hz | 1 ch
  const c = parseAudioSpecificConfig(hex('178055f008'));
  assert.deepEqual([c.objectType, c.sampleRate, c.channels], [2, 44000, 1]);
});

test('channelConfiguration 7 is 8 channels; 0 means a PCE defines them', () => {
  assert.equal(parseAudioSpecificConfig(hex('11b8')).channels, 8); // LC | 48000 | config 7 (7.1)
  assert.equal(parseAudioSpecificConfig(hex('1200')).channels, 0); // LC | 44100 | config 0
});

test('reserved frequency index, object type 0 and truncation are ERR_CODEC', () => {
  throwsCode(() => parseAudioSpecificConfig(hex('1690')), 'ERR_CODEC', /reserved samplingFrequencyIndex 13/);
  throwsCode(() => parseAudioSpecificConfig(hex('0210')), 'ERR_CODEC', /audioObjectType 0/);
  throwsCode(() => parseAudioSpecificConfig(hex('12')), 'ERR_CODEC', /samplingFrequencyIndex: need 4 bits, have 3/);
  throwsCode(() => parseAudioSpecificConfig(hex('1780')), 'ERR_CODEC', /samplingFrequency: need 24 bits/);
  throwsCode(() => parseAudioSpecificConfig(new Uint8Array(0)), 'ERR_CODEC', /audioObjectType: need 5 bits, have 0/);
});

test('buildAudioSpecificConfig: common, escaped rate, escaped object type', () => {
  assert.deepEqual(buildAudioSpecificConfig({ objectType: 2, sampleRate: 44100, channelConfig: 2 }), hex('1210'));
  assert.deepEqual(buildAudioSpecificConfig({ objectType: 2, sampleRate: 48000, channelConfig: 1 }), hex('1188'));
  assert.deepEqual(buildAudioSpecificConfig({ objectType: 2, sampleRate: 44000, channelConfig: 1 }), hex('178055f008'));
  assert.deepEqual(buildAudioSpecificConfig({ objectType: 42, sampleRate: 44100, channelConfig: 2 }), hex('f94840'));
});

test('buildAacSequenceHeader: af 00 + AudioSpecificConfig', () => {
  assert.deepEqual(buildAacSequenceHeader(hex('1210')), hex(
    'af',   // SoundFormat 10 (AAC) | 44 kHz | 16 bit | stereo
    '00',   // AACPacketType 0 (sequence header)
    '1210', // AudioSpecificConfig
  ));
});
