/**
 * The playlist reader and rules the HLS server tests rely on (m3u8.ts):
 * a good LL-HLS playlist passes, and each rule fires on a playlist that
 * breaks it, so a server test that finds no problem has really checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allParts, parseAttributes, parseMediaPlaylist, playlistProblems, reloadProblems } from './m3u8.js';

const GOOD = [
  '#EXTM3U',
  '#EXT-X-VERSION:6',
  '#EXT-X-TARGETDURATION:1',
  '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600',
  '#EXT-X-PART-INF:PART-TARGET=0.200',
  '#EXT-X-MEDIA-SEQUENCE:7',
  '#EXT-X-MAP:URI="a/init-00.mp4?t=1,2"',
  '#EXTINF:1.000,',
  'a/seg-7.m4s',
  '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:01.000Z',
  '#EXT-X-PART:DURATION=0.200,URI="a/part-8.0.m4s",INDEPENDENT=YES',
  '#EXT-X-PART:DURATION=0.200,URI="a/part-8.1.m4s"',
  '#EXT-X-PART:DURATION=0.200,URI="a/part-8.2.m4s"',
  '#EXT-X-PART:DURATION=0.200,URI="a/part-8.3.m4s"',
  '#EXT-X-PART:DURATION=0.160,URI="a/part-8.4.m4s"',
  '#EXTINF:0.960,',
  'a/seg-8.m4s',
  '#EXT-X-PART:DURATION=0.200,URI="a/part-9.0.m4s",INDEPENDENT=YES',
  '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="a/part-9.1.m4s"',
  '',
].join('\n');

const edit = (from: string, to: string): string => {
  assert.ok(GOOD.includes(from), from);
  return GOOD.replace(from, to);
};

test('a good LL-HLS playlist: segments numbered from MEDIA-SEQUENCE, parts given to the segment after them, no problems', () => {
  const pl = parseMediaPlaylist(GOOD);
  assert.deepEqual(pl.segments.map((s) => [s.msn, s.duration, s.uri, s.parts.length]), [[7, 1, 'a/seg-7.m4s', 0], [8, 0.96, 'a/seg-8.m4s', 5]]);
  assert.equal(pl.segments[0]!.map, 'a/init-00.mp4?t=1,2', 'a quoted attribute keeps its comma');
  assert.deepEqual(pl.openParts.map((p) => [p.msn, p.index, p.independent]), [[9, 0, true]]);
  assert.deepEqual(allParts(pl).map((p) => `${p.msn}.${p.index}`), ['8.0', '8.1', '8.2', '8.3', '8.4', '9.0']);
  assert.equal(pl.preloadHint?.URI, 'a/part-9.1.m4s');
  assert.deepEqual(playlistProblems(pl), []);
});

test('each playlist rule fires on a playlist that breaks it', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['EXTINF over the target', edit('#EXTINF:1.000,', '#EXTINF:1.600,'), /rounds to more than TARGETDURATION/],
    ['parts that do not add up', edit('DURATION=0.160', 'DURATION=0.150'), /parts add up to 0\.9500 s, EXTINF 0\.96/],
    ['a part over PART-TARGET', edit('DURATION=0.200,URI="a/part-8.1.m4s"', 'DURATION=0.201,URI="a/part-8.1.m4s"'), /part 8\.1: 0\.201 s > PART-TARGET/],
    ['a short part in the middle', edit('DURATION=0.200,URI="a/part-8.2.m4s"', 'DURATION=0.100,URI="a/part-8.2.m4s"'), /part 8\.2: 0\.1 s < 85%/],
    ['no preload hint', edit('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="a/part-9.1.m4s"\n', ''), /no EXT-X-PRELOAD-HINT/],
    ['no blocking reload', edit('CAN-BLOCK-RELOAD=YES', 'CAN-BLOCK-RELOAD=NO'), /CAN-BLOCK-RELOAD=NO/],
    ['PART-HOLD-BACK too short', edit('PART-HOLD-BACK=0.600', 'PART-HOLD-BACK=0.300'), /PART-HOLD-BACK 0\.300 < 2/],
    ['no map', edit('#EXT-X-MAP:URI="a/init-00.mp4?t=1,2"\n', ''), /segment 7: no EXT-X-MAP/],
  ];
  for (const [what, text, want] of cases) {
    const problems = playlistProblems(parseMediaPlaylist(text));
    assert.ok(problems.some((p) => want.test(p)), `${what}: ${JSON.stringify(problems)}`);
  }
});

test('each reload rule fires on a reload that breaks it', () => {
  const prev = parseMediaPlaylist(GOOD);
  assert.deepEqual(reloadProblems(prev, prev), []);
  const slid = edit('#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-MAP:URI="a/init-00.mp4?t=1,2"\n#EXTINF:1.000,\na/seg-7.m4s\n', '#EXT-X-MEDIA-SEQUENCE:8\n#EXT-X-MAP:URI="a/init-00.mp4?t=1,2"\n');
  assert.deepEqual(reloadProblems(prev, parseMediaPlaylist(slid)), [], 'the window slid by one');
  const cases: Array<[string, string, RegExp]> = [
    ['media sequence back', edit('MEDIA-SEQUENCE:7', 'MEDIA-SEQUENCE:6'), /MEDIA-SEQUENCE went back: 7 -> 6/],
    ['a segment renamed', edit('a/seg-8.m4s', 'a/seg-8b.m4s'), /segment 8: URI a\/seg-8\.m4s -> a\/seg-8b\.m4s/],
    ['a part renamed', edit('a/part-9.0.m4s', 'a/part-9.0b.m4s'), /part 9\.0/],
    ['target changed', edit('TARGETDURATION:1', 'TARGETDURATION:2'), /TARGETDURATION changed/],
  ];
  for (const [what, text, want] of cases) {
    const problems = reloadProblems(prev, parseMediaPlaylist(text));
    assert.ok(problems.some((p) => want.test(p)), `${what}: ${JSON.stringify(problems)}`);
  }
});

test('malformed playlists do not parse', () => {
  assert.throws(() => parseMediaPlaylist(GOOD.replace('#EXTM3U', '#EXTM3X')), /does not start with #EXTM3U/);
  assert.throws(() => parseMediaPlaylist(edit('#EXT-X-TARGETDURATION:1\n', '')), /no EXT-X-TARGETDURATION/);
  assert.throws(() => parseMediaPlaylist(edit('#EXTINF:1.000,', '#EXTINF:x,')), /bad EXTINF/);
  assert.throws(() => parseMediaPlaylist(`${GOOD}#EXTINF:1.000,\n`), /EXTINF without a URI/);
  assert.throws(() => parseMediaPlaylist(edit('#EXT-X-VERSION:6', '#EXT-X-VERSION:6\n#EXT-X-SKIP:SKIPPED-SEGMENTS=1')), /does not know/);
  assert.throws(() => parseAttributes('A=1,,B=2', 'x'), /bad attribute list/);
  assert.throws(() => parseAttributes('A=1,A=2', 'x'), /twice/);
});
