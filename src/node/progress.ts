// Training progress for terminals: a cli-progress bar on a TTY, nothing otherwise.
import cliProgress from "cli-progress";
import type { TrainingProgressEvent } from "../models/training.js";

export interface TerminalProgress {
  onBatch?: (e: TrainingProgressEvent) => void;
  progress?: (e: TrainingProgressEvent) => void;
  stop(): void;
}

/** Callbacks for trainModel's onBatch/progress that draw one bar per run on stderr when it is a TTY. */
export function terminalProgress(label: string, stream: NodeJS.WriteStream = process.stderr): TerminalProgress {
  if (!stream.isTTY) return { stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] epoch {epoch}/{epochs} | loss {loss} | {value}/{total} batches | {eta_formatted} left`, stream, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    onBatch(e) {
      const total = e.batches * e.epochs;
      const value = (e.epoch - 1) * e.batches + e.batch;
      const payload = { epoch: e.epoch, epochs: e.epochs, loss: e.loss.toFixed(4) };
      if (!started) {
        bar.start(total, value, payload);
        started = true;
      } else bar.update(value, payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
