/**
 * A served HLS window copied to disk for ffmpeg/ffprobe: the init, every
 * listed segment (each checked to be moof + mdat), and the playlist as
 * served but ended, so ffmpeg reads it once instead of reloading it live.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tmpFile } from '../helpers/ffmpeg.js';
import { walk } from './box-reader.js';

export async function getOk(url: string): Promise<Buffer> {
  const r = await fetch(url);
  assert.equal(r.status, 200, `${url}: ${r.status} ${await r.clone().text()}`);
  return Buffer.from(await r.arrayBuffer());
}

/** `base` is the directory the playlist was served from; `uris` and `init` are relative to it. Returns the local playlist's path. */
export async function copyWindow(label: string, base: string, name: string, playlist: string, init: string, uris: string[]): Promise<string> {
  const dir = tmpFile(label);
  mkdirSync(path.join(dir, name), { recursive: true });
  writeFileSync(path.join(dir, init), await getOk(`${base}/${init}`));
  for (const u of uris) {
    const seg = await getOk(`${base}/${u}`);
    assert.deepEqual([...new Set(walk(seg).map((b) => b.type))], ['moof', 'mdat'], `${u} is moof/mdat`);
    writeFileSync(path.join(dir, u), seg);
  }
  const local = path.join(dir, 'index.m3u8');
  writeFileSync(local, playlist.replace(/#EXT-X-PRELOAD-HINT.*\n/, '') + '#EXT-X-ENDLIST\n');
  return local;
}
