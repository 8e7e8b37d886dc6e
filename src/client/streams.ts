import { PeerError } from "./errors";

/** Passes a stream through unchanged, calling `onBytes` with the size of each chunk. */
export function countBytes(stream: ReadableStream<Uint8Array>, onBytes: (n: number) => void): ReadableStream<Uint8Array> {
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        onBytes(chunk.byteLength);
        controller.enqueue(chunk);
      },
    }),
  );
}

/**
 * Cuts one stream into consecutive windows of exact lengths (the parts of a multipart
 * upload), reading only as fast as each window is consumed: memory stays at one chunk.
 */
export class StreamWindows {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private rest: Uint8Array | null = null;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.reader = stream.getReader();
  }

  /** The next `length` bytes as a stream; it errors if the source ends before them. */
  take(length: number): ReadableStream<Uint8Array> {
    let left = length;
    return new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          if (left === 0) return controller.close();
          let chunk = this.rest;
          this.rest = null;
          if (!chunk) {
            const next = await this.reader.read();
            if (next.done) return controller.error(new PeerError("source_failed", "The source ended before its declared size."));
            chunk = next.value;
          }
          if (chunk.byteLength > left) {
            this.rest = chunk.subarray(left);
            chunk = chunk.subarray(0, left);
          }
          left -= chunk.byteLength;
          controller.enqueue(chunk);
          if (left === 0) controller.close();
        },
        cancel: (reason) => this.reader.cancel(reason),
      },
      { highWaterMark: 0 },
    );
  }

  /** Stops reading the source. */
  cancel(reason?: unknown): Promise<void> {
    return this.reader.cancel(reason).catch(() => undefined);
  }
}

/**
 * Remembers why a stream failed, so a failed upload can tell "the source broke off" from
 * "the destination refused".
 */
export function watchStream(stream: ReadableStream<Uint8Array>): {
  stream: ReadableStream<Uint8Array>;
  failure: () => unknown;
} {
  let failure: unknown;
  const reader = stream.getReader();
  const watched = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await reader.read();
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        } catch (err) {
          failure = err ?? new Error("the stream failed");
          controller.error(err);
        }
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
  return { stream: watched, failure: () => failure };
}
