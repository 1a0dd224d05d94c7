/**
 * Newline-delimited text from a byte stream (a watch body), decoded as
 * UTF-8 across chunk boundaries.
 *
 * @module
 */

/**
 * Yields each non-empty line of `body` (without its `\n`), then the last
 * unterminated one. Breaking out of the loop cancels the stream.
 *
 * @example Usage
 * ```ts
 * import { readLines } from "./lines.ts";
 * const bytes = new TextEncoder().encode('{"a":1}\n{"b"');
 * const body = new ReadableStream<Uint8Array>({
 *   start(c) {
 *     c.enqueue(bytes.slice(0, 5));
 *     c.enqueue(bytes.slice(5));
 *     c.enqueue(new TextEncoder().encode(':2}\n'));
 *     c.close();
 *   },
 * });
 * const lines: string[] = [];
 * for await (const line of readLines(body)) lines.push(line);
 * if (lines.join("|") !== '{"a":1}|{"b":2}') throw new Error("not as shown");
 * ```
 *
 * @param body The byte stream.
 * @returns The lines, as they complete.
 */
export async function* readLines(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<string, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  let finished = false;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let nl = buffered.indexOf("\n");
      while (nl >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line !== "") yield line;
        nl = buffered.indexOf("\n");
      }
    }
    finished = true;
    const last = (buffered + decoder.decode()).trim();
    if (last !== "") yield last;
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
