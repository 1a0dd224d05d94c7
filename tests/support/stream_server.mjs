// The test cluster's stream endpoints (imported by cluster_server.mjs):
// exec, attach and portforward over WebSockets, as the API server and the
// kubelet speak them (channel.k8s.io framing: one binary message per write,
// first byte = channel).
//
// - GET /api, /apis, /api/v1 (legacy discovery) and
//   /api/v1/namespaces/NS/pods/NAME (the pod object kubectl exec reads
//   first). Pods named "missing*" do not exist (404); pods named
//   "forbidden*" are forbidden (403) for exec, attach and portforward.
// - GET .../pods/NAME/exec?command=..&stdin=1&stdout=1&stderr=1&tty=1:
//   WebSocket, subprotocols v5.channel.k8s.io then v4.channel.k8s.io (the
//   server's list is settable: POST /stream-config {"protocols": [...]}
//   on the control port). Runs the command as a real local process: channel
//   0 -> its stdin, its stdout -> 1, its stderr -> 2 (1 with tty), then a
//   Status on channel 3 (Success, or NonZeroExitCode with an ExitCode cause)
//   and a normal close. v5: [255, 0] closes its stdin. Channel 4 (resize)
//   messages are recorded (GET /streams on the control port).
// - .../attach: the same, running the configured attach command (default
//   `cat`: the "container's main process").
// - .../portforward?ports=P: subprotocol v4.channel.k8s.io only, as the
//   kubelet (v5 is never chosen for port-forward); connects to
//   127.0.0.1:P (a real local TCP server); data on channel 0, errors (text)
//   on channel 1; the first message on each channel is the port, 2 bytes
//   little-endian. A refused connection is reported on channel 1.
// - Without an upgrade, these paths answer as the API server would after
//   authorization: 404/403 as above, else 400 "Upgrade request required".
//
// Output is sent with back-pressure: the child's stdout is paused while
// more than 1 MiB is queued on the WebSocket.
import { spawn } from "node:child_process";
import net from "node:net";
import { WebSocketServer } from "ws";

const wss = new WebSocketServer({
  noServer: true,
  perMessageDeflate: false,
  maxPayload: 64 * 1024 * 1024,
  handleProtocols: (offered, req) => {
    // The kubelet's port-forward WebSocket speaks v4 only (no v5 close
    // channel); exec and attach take the configured list.
    const list = /\/portforward(\?|$)/.test(req.url ?? "")
      ? PORT_FORWARD_PROTOCOLS
      : settings.protocols;
    for (const p of list) if (offered.has(p)) return p;
    return false;
  },
});
const PORT_FORWARD_PROTOCOLS = ["v4.channel.k8s.io"];
const settings = {
  protocols: ["v5.channel.k8s.io", "v4.channel.k8s.io"],
  attachCommand: ["cat"],
};
/** Records for GET /streams. */
export const streamRecords = { sessions: [] };
const live = new Set();
const HIGH_WATER = 1024 * 1024;
const STREAM_PATH =
  /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)(?:\/(exec|attach|portforward))?$/;

/** POST /stream-config on the control server. */
export function configureStreams(partial) {
  if (Array.isArray(partial.protocols)) settings.protocols = partial.protocols;
  if (Array.isArray(partial.attachCommand)) {
    settings.attachCommand = partial.attachCommand;
  }
}

/** Kills every stream's process and closes every stream socket. */
export function destroyStreams() {
  for (const s of live) s.destroy();
}

function statusBody(code, reason, message, details) {
  const body = {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    code,
  };
  if (details) body.details = details;
  return body;
}

/** The refusal for this pod and subresource, or null when allowed. */
function refusalFor(ns, name, sub, user) {
  if (name.startsWith("missing")) {
    return statusBody(404, "NotFound", `pods "${name}" not found`, {
      name,
      kind: "pods",
    });
  }
  if (sub && name.startsWith("forbidden")) {
    return statusBody(
      403,
      "Forbidden",
      `pods "${name}" is forbidden: User "${user}" cannot create resource "pods/${sub}" in API group "" in the namespace "${ns}"`,
      { name, kind: `pods/${sub}` },
    );
  }
  return null;
}

function podObject(ns, name) {
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: {
      name,
      namespace: ns,
      uid: "00000000-0000-4000-8000-0000000000aa",
      resourceVersion: "2000",
    },
    spec: { containers: [{ name: "main", image: "busybox" }] },
    status: {
      phase: "Running",
      containerStatuses: [{ name: "main", ready: true, started: true }],
    },
  };
}

/** The legacy discovery documents kubectl reads before `exec`. */
function discovery(path, req) {
  if (path === "/api") {
    return {
      kind: "APIVersions",
      versions: ["v1"],
      serverAddressByClientCIDRs: [{
        clientCIDR: "0.0.0.0/0",
        serverAddress: req.headers.host ?? "127.0.0.1",
      }],
    };
  }
  if (path === "/apis") {
    return { kind: "APIGroupList", apiVersion: "v1", groups: [] };
  }
  if (path === "/api/v1") {
    const r = (name, kind, namespaced, verbs) => ({
      name,
      singularName: name.includes("/") ? "" : kind.toLowerCase(),
      namespaced,
      kind,
      verbs,
    });
    return {
      kind: "APIResourceList",
      groupVersion: "v1",
      resources: [
        // The object store's (object_store.mjs): one discovery for both.
        r("configmaps", "ConfigMap", true, [
          "create",
          "delete",
          "get",
          "list",
          "update",
          "watch",
        ]),
        r("namespaces", "Namespace", false, ["get", "list", "watch"]),
        r("pods", "Pod", true, ["get", "list", "watch"]),
        r("pods/attach", "PodAttachOptions", true, ["create", "get"]),
        r("pods/exec", "PodExecOptions", true, ["create", "get"]),
        r("pods/portforward", "PodPortForwardOptions", true, ["create", "get"]),
      ],
    };
  }
  return null;
}

/**
 * Plain (non-upgrade) requests to pod and stream paths. Returns false when
 * the path is not one of ours.
 */
export function streamRoute(req, res, url, auth, sendJson) {
  const discovered = discovery(url.pathname, req);
  if (discovered !== null && req.method === "GET") {
    sendJson(res, 200, discovered);
    return true;
  }
  const m = STREAM_PATH.exec(url.pathname);
  if (!m || req.method !== "GET") return false;
  const [, ns, name, sub] = m;
  const refused = refusalFor(ns, name, sub, auth.user);
  if (refused) {
    sendJson(res, refused.code, refused);
    return true;
  }
  if (!sub) {
    sendJson(res, 200, podObject(ns, name));
    return true;
  }
  sendJson(
    res,
    400,
    statusBody(400, "BadRequest", "Upgrade request required"),
  );
  return true;
}

function rawRefusal(socket, body) {
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${body.code} ${body.reason}\r\ncontent-type: application/json\r\n` +
      `content-length: ${
        Buffer.byteLength(text)
      }\r\nconnection: close\r\n\r\n` +
      text,
  );
}

/** The https server's "upgrade" event. */
export function onStreamUpgrade(req, socket, head, authenticate) {
  const url = new URL(req.url, "https://127.0.0.1");
  const auth = authenticate(req);
  if (!auth) {
    return rawRefusal(socket, statusBody(401, "Unauthorized", "Unauthorized"));
  }
  const m = STREAM_PATH.exec(url.pathname);
  if (!m || !m[3]) {
    return rawRefusal(
      socket,
      statusBody(
        404,
        "NotFound",
        "the server could not find the requested resource",
      ),
    );
  }
  const [, ns, name, sub] = m;
  const refused = refusalFor(ns, name, sub, auth.user);
  if (refused) return rawRefusal(socket, refused);
  wss.handleUpgrade(req, socket, head, (ws) => {
    const record = {
      kind: sub,
      pod: name,
      namespace: ns,
      user: auth.user,
      protocol: ws.protocol,
      offered: String(req.headers["sec-websocket-protocol"] ?? "")
        .split(",").map((p) => p.trim()).filter((p) => p !== ""),
      query: url.search,
      resizes: [],
      stdinBytes: 0,
      emptyMessages: 0,
      exit: null,
      closed: false,
    };
    streamRecords.sessions.push(record);
    if (sub === "portforward") return portForward(ws, url, record);
    const command = sub === "exec"
      ? url.searchParams.getAll("command")
      : settings.attachCommand;
    return runCommand(ws, url, command, record);
  });
}

/** Sends `payload` on `channel`; pauses `source` while the socket is full. */
function sendOn(ws, channel, payload, source) {
  if (ws.readyState !== 1) return;
  const frame = Buffer.allocUnsafe(payload.length + 1);
  frame[0] = channel;
  payload.copy(frame, 1);
  ws.send(frame, { binary: true }, () => {
    if (source && source.isPaused() && ws.bufferedAmount < HIGH_WATER) {
      source.resume();
    }
  });
  if (source && ws.bufferedAmount >= HIGH_WATER) source.pause();
}

function exitStatus(code, signal, command) {
  if (code === 0) {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Success",
    };
  }
  const exitCode = code ?? 128 + (signalNumbers[signal] ?? 9);
  return statusBody(
    undefined,
    "NonZeroExitCode",
    `command terminated with non-zero exit code: error executing command [${
      command.join(" ")
    }], exit code ${exitCode}`,
    { causes: [{ reason: "ExitCode", message: String(exitCode) }] },
  );
}
const signalNumbers = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

function runCommand(ws, url, command, record) {
  const q = url.searchParams;
  const flag = (n) => q.get(n) === "true" || q.get(n) === "1";
  const tty = flag("tty");
  const child = spawn(command[0], command.slice(1), {
    stdio: ["pipe", "pipe", "pipe"],
  });
  record.pid = child.pid;
  const entry = {
    destroy() {
      child.kill("SIGKILL");
      ws.terminate();
    },
  };
  live.add(entry);
  child.on("error", () => {});
  child.stdin.on("error", () => {});
  if (!flag("stdin")) child.stdin.end();
  if (flag("stdout") || tty) {
    child.stdout.on("data", (c) => sendOn(ws, 1, c, child.stdout));
  } else child.stdout.resume();
  if (flag("stderr") && !tty) {
    child.stderr.on("data", (c) => sendOn(ws, 2, c, child.stderr));
  } else if (tty) {
    child.stderr.on("data", (c) => sendOn(ws, 1, c, child.stderr));
  } else child.stderr.resume();
  ws.on("message", (data) => {
    const buf = Buffer.isBuffer(data) ? data : Buffer.concat(data);
    if (buf.length === 0) {
      record.emptyMessages++;
      return;
    }
    const channel = buf[0];
    if (channel === 0) {
      record.stdinBytes += buf.length - 1;
      if (!child.stdin.writableEnded) child.stdin.write(buf.subarray(1));
    } else if (channel === 4) {
      try {
        record.resizes.push(JSON.parse(buf.subarray(1).toString("utf8")));
      } catch {
        // Ignored, as the kubelet does.
      }
    } else if (channel === 255 && ws.protocol === "v5.channel.k8s.io") {
      if (buf[1] === 0) child.stdin.end();
    }
  });
  ws.on("close", () => {
    record.closed = true;
    live.delete(entry);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
    }
  });
  child.on("close", (code, signal) => {
    record.exit = { code, signal };
    if (ws.readyState !== 1) return;
    const status = exitStatus(code, signal, command);
    sendOn(ws, 3, Buffer.from(JSON.stringify(status)));
    ws.close(1000);
  });
}

function portForward(ws, url, record) {
  const port = Number(url.searchParams.get("ports"));
  const header = Buffer.alloc(2);
  header.writeUInt16LE(port);
  sendOn(ws, 0, header);
  sendOn(ws, 1, header);
  const tcp = net.connect(port, "127.0.0.1");
  const entry = {
    destroy() {
      tcp.destroy();
      ws.terminate();
    },
  };
  live.add(entry);
  tcp.on("data", (c) => sendOn(ws, 0, c, tcp));
  tcp.on("error", (/** @type {NodeJS.ErrnoException} */ err) => {
    sendOn(
      ws,
      1,
      Buffer.from(
        `an error occurred forwarding ${port} -> ${port}: error forwarding port ${port} to pod ${record.pod}: ${
          err.code ?? err.message
        }`,
      ),
    );
    ws.close(1000);
  });
  tcp.on("end", () => {
    if (ws.readyState === 1) ws.close(1000);
  });
  ws.on("message", (data) => {
    const buf = Buffer.isBuffer(data) ? data : Buffer.concat(data);
    if (buf.length === 0) record.emptyMessages++;
    if (buf.length === 0 || buf[0] !== 0) return;
    record.stdinBytes += buf.length - 1;
    if (!tcp.write(buf.subarray(1))) {
      ws._socket?.pause();
      tcp.once("drain", () => ws._socket?.resume());
    }
  });
  ws.on("close", () => {
    record.closed = true;
    live.delete(entry);
    tcp.end();
  });
}
