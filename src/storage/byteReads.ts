/**
 * Large reads of a byte stream (workerd's request and R2 bodies): a BYOB reader fills a
 * buffer of our size in one JavaScript step instead of one step per 4 KiB chunk.
 */

/** A BYOB reader of `body`, or null when it is not a byte stream (read its chunks instead). */
export function byobReaderOf(body: ReadableStream<Uint8Array>): ReadableStreamBYOBReader | null {
  try {
    return body.getReader({ mode: "byob" });
  } catch {
    return null;
  }
}

/**
 * Reads `size` bytes into a fresh buffer, fewer only when the stream ends (`done`). The read
 * transfers the buffer, so the bytes answered are a view on the last buffer the stream gave back.
 */
export async function readFull(reader: ReadableStreamBYOBReader, size: number): Promise<{ bytes: Uint8Array; done: boolean }> {
  let view = new Uint8Array(size);
  let filled = 0;
  let done = false;
  while (filled < size && !done) {
    const read = await reader.readAtLeast(size - filled, new Uint8Array(view.buffer, filled, size - filled));
    if (read.value) {
      view = new Uint8Array(read.value.buffer);
      filled += read.value.byteLength;
    }
    done = read.done;
  }
  return { bytes: view.subarray(0, filled), done };
}
