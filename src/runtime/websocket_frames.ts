/**
 * The WebSocket frame format (RFC 6455 §5) as a client speaks it: frames it
 * sends are masked; frames it reads must not be. {@linkcode encodeFrame}
 * builds one frame, {@linkcode FrameReader} cuts a byte stream into
 * messages and control frames.
 *
 * @module
 */
import { concatBytes } from "../tls/der.ts";

/** Frame opcodes. */
export const OPCODE = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** A message or control frame read from the server. */
export interface ReadFrame {
  /** `text`, `binary` (whole messages) or a control opcode. */
  opcode: number;
  /** The payload (a whole message for text and binary). */
  payload: Uint8Array;
}

/** Why the server's bytes cannot be read, with the close code to send. */
export class FrameError extends Error {
  /** 1002 (protocol error) or 1009 (message too big). */
  readonly closeCode: number;

  /**
   * @param closeCode The close code.
   * @param message What was wrong.
   */
  constructor(closeCode: number, message: string) {
    super(message);
    this.name = "FrameError";
    this.closeCode = closeCode;
  }
}

/**
 * One masked client frame with FIN set.
 *
 * @example Usage
 * ```ts
 * import { encodeFrame, OPCODE } from "./websocket_frames.ts";
 * const frame = encodeFrame(OPCODE.binary, new Uint8Array([1, 2, 3]));
 * if (frame[0] !== 0x82) throw new Error("not as shown"); // FIN + binary
 * if (frame[1] !== 0x80 + 3) throw new Error("not as shown"); // masked, length 3
 * const mask = frame.subarray(2, 6);
 * if (frame[6] !== (1 ^ mask[0])) throw new Error("not as shown");
 * ```
 *
 * @param opcode The opcode.
 * @param payload The payload.
 * @returns The frame's bytes.
 */
export function encodeFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const lengthBytes = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const head = 2 + lengthBytes + 4;
  const frame = new Uint8Array(head + n);
  frame[0] = 0x80 | opcode;
  if (lengthBytes === 0) frame[1] = 0x80 | n;
  else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126;
    frame[2] = n >>> 8;
    frame[3] = n & 0xff;
  } else {
    frame[1] = 0x80 | 127;
    new DataView(frame.buffer).setBigUint64(2, BigInt(n));
  }
  const mask = frame.subarray(head - 4, head);
  crypto.getRandomValues(mask);
  for (let i = 0; i < n; i++) frame[head + i] = payload[i] ^ mask[i & 3];
  return frame;
}

/**
 * Cuts the server's byte stream into frames and whole messages.
 *
 * @example Usage
 * ```ts
 * import { FrameReader, OPCODE } from "./websocket_frames.ts";
 * const reader = new FrameReader(1024);
 * // "hel" + "lo" as a fragmented text message, then a ping, split anywhere.
 * const bytes = new Uint8Array([0x01, 3, 104, 101, 108, 0x89, 0, 0x80, 2, 108, 111]);
 * const frames = [...reader.push(bytes.subarray(0, 4)), ...reader.push(bytes.subarray(4))];
 * if (frames[0].opcode !== OPCODE.ping) throw new Error("not as shown"); // control frames pass through
 * if (new TextDecoder().decode(frames[1].payload) !== "hello") throw new Error("not as shown");
 * ```
 */
export class FrameReader {
  readonly #maxMessage: number;
  #buffer: Uint8Array = new Uint8Array(0);
  #fragments: Uint8Array[] = [];
  #fragmentBytes = 0;
  #fragmentOpcode = -1;

  /**
   * @param maxMessage The largest message accepted (bytes); larger ones are
   *   a {@linkcode FrameError} with code 1009.
   */
  constructor(maxMessage: number) {
    this.#maxMessage = maxMessage;
  }

  /**
   * Reads what `chunk` completes.
   *
   * @param chunk Bytes from the socket.
   * @returns Control frames and whole messages, in order.
   * @throws {FrameError} On a frame a client must not accept.
   */
  push(chunk: Uint8Array): ReadFrame[] {
    // A plain view: a Node Buffer's slice() would share its memory.
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    this.#buffer = this.#buffer.length === 0
      ? bytes
      : concatBytes([this.#buffer, bytes]);
    const out: ReadFrame[] = [];
    for (;;) {
      const frame = this.#nextFrame();
      if (frame === null) break;
      const message = this.#assemble(frame);
      if (message !== null) out.push(message);
    }
    return out;
  }

  /** The next whole frame in the buffer, or null. */
  #nextFrame(): { fin: boolean; opcode: number; payload: Uint8Array } | null {
    const b = this.#buffer;
    if (b.length < 2) return null;
    if ((b[0] & 0x70) !== 0) throw new FrameError(1002, "reserved bits set");
    if ((b[1] & 0x80) !== 0) {
      throw new FrameError(1002, "the server masked a frame");
    }
    let length = b[1] & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (b.length < 4) return null;
      length = (b[2] << 8) | b[3];
      offset = 4;
    } else if (length === 127) {
      if (b.length < 10) return null;
      // Past 2^53 the number is approximate, and still over the limit.
      length = Number(
        new DataView(b.buffer, b.byteOffset + 2, 8).getBigUint64(0),
      );
      offset = 10;
    }
    if (length > this.#maxMessage) {
      throw new FrameError(1009, "message too big");
    }
    if (b.length < offset + length) return null;
    const payload = new Uint8Array(length); // its own exact buffer
    payload.set(b.subarray(offset, offset + length));
    this.#buffer = b.subarray(offset + length);
    return { fin: (b[0] & 0x80) !== 0, opcode: b[0] & 0x0f, payload };
  }

  /** A frame as a control frame, a whole message, or null (a fragment). */
  #assemble(
    frame: { fin: boolean; opcode: number; payload: Uint8Array },
  ): ReadFrame | null {
    const { fin, opcode, payload } = frame;
    if (opcode >= 0x8) {
      if (
        opcode !== OPCODE.close && opcode !== OPCODE.ping &&
        opcode !== OPCODE.pong
      ) {
        throw new FrameError(1002, `unknown opcode ${opcode}`);
      }
      if (!fin || payload.length > 125) {
        throw new FrameError(1002, "a fragmented or long control frame");
      }
      return { opcode, payload };
    }
    if (opcode === OPCODE.continuation) {
      if (this.#fragmentOpcode < 0) {
        throw new FrameError(1002, "a continuation without a message");
      }
    } else if (opcode !== OPCODE.text && opcode !== OPCODE.binary) {
      throw new FrameError(1002, `unknown opcode ${opcode}`);
    } else if (this.#fragmentOpcode >= 0) {
      throw new FrameError(1002, "a new message inside a fragmented one");
    } else this.#fragmentOpcode = opcode;
    this.#fragmentBytes += payload.length;
    if (this.#fragmentBytes > this.#maxMessage) {
      throw new FrameError(1009, "message too big");
    }
    this.#fragments.push(payload);
    if (!fin) return null;
    const whole = this.#fragments.length === 1
      ? this.#fragments[0]
      : concatBytes(this.#fragments);
    const message = { opcode: this.#fragmentOpcode, payload: whole };
    this.#fragments = [];
    this.#fragmentBytes = 0;
    this.#fragmentOpcode = -1;
    return message;
  }
}
