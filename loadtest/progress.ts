/**
 * Live progress in the terminal: a cli-progress bar over the run's seconds
 * when the output is a TTY, and in every case one line per second
 * (players, Mbit/s, latency so far, gaps) — the line is what CI logs keep.
 */
import cliProgress from 'cli-progress';
import type { ProgressSnapshot } from './timeline.js';

export function progressLine(p: ProgressSnapshot): string {
  const t = p.totals;
  return (
    `[${String(p.tick).padStart(4)}s] players ${p.playing}/${p.playersTarget} playing, ${p.live} publishing` +
    ` | in ${p.mbpsIn.toFixed(1)} Mbit/s, out ${p.mbpsOut.toFixed(1)} Mbit/s` +
    ` | latency so far p50 ${p.p50.toFixed(2)} ms, p99 ${p.p99.toFixed(2)} ms` +
    ` | gaps ${t.gaps}, failed ${t.playersFailed}, dropped ${t.playersDropped}`
  );
}

export class ProgressPrinter {
  private readonly bars: cliProgress.MultiBar | undefined;
  private readonly bar: cliProgress.SingleBar | undefined;

  constructor(
    private readonly out: NodeJS.WriteStream,
    durationS: number,
  ) {
    if (out.isTTY) {
      this.bars = new cliProgress.MultiBar(
        { stream: out, format: ' {bar} {value}/{total} s | {players} playing | {mbps} Mbit/s', hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      );
      this.bar = this.bars.create(Math.ceil(durationS), 0, { players: 0, mbps: '0.0' });
    }
  }

  update(p: ProgressSnapshot): void {
    const line = progressLine(p);
    if (this.bars && this.bar) {
      this.bars.log(`${line}\n`);
      this.bar.update(Math.min(p.tick, p.durationS), { players: p.playing, mbps: p.mbpsIn.toFixed(1) });
    } else {
      this.out.write(`${line}\n`);
    }
  }

  stop(): void {
    this.bars?.stop();
  }
}
