#!/usr/bin/env node
// A fake Kubernetes API server for tests and demos (run by Node:
// `node tests/support/cluster_server.mjs`).
//
// Protocol: the parent writes ONE JSON config line on stdin:
//   { caPem, serverCertPem, serverKeyPem,
//     tokens?: { "<token>": "<username>" }, basic?: [{ username, password }],
//     requireClientCert?: boolean, http2?: boolean,
//     sessionResumption?: boolean }   // default false: no TLS resumption
// The server answers with one JSON line on stdout:
//   {"port":N,"controlPort":M}
// and then keeps reading stdin: when stdin ENDS, the process exits, so it can
// never outlive its parent.
//
// Authentication, per request (like the API server's union authenticator,
// x509 first): a verified, currently valid client certificate -> user = CN,
// groups = O values; else `Authorization: Bearer <t>` with t in tokens; else
// Basic matching a basic user; else 401 with a Kubernetes Status body.
//
// Routes (all but /healthz need auth): GET /version, GET /api/v1/namespaces,
// GET /api/v1/namespaces/default/pods[?watch=true&intervalMs=N&count=K],
// POST /apis/authentication.k8s.io/v1/selfsubjectreviews, GET|POST /echo,
// GET /slow?ms=N, GET /redirect?to=URL&status=302; ConfigMaps with watches
// under /api/v1/namespaces/{ns}/configmaps (tests/support/object_store.mjs,
// with its control routes under /store/).
//
// Control server (plain HTTP, 127.0.0.1:controlPort, JSON): GET /connections,
// GET /requests, GET /stats, POST /config, POST /reset,
// GET /wait-closed?ids=1,2&timeoutMs=5000, POST /destroy-connections,
// GET /events?since=SEQ&timeoutMs=T (long-poll: the connection events with
// seq > SEQ, waiting up to T ms for one; answers {seq, events: [...]} where
// each event is {seq, at, type: "connection-opened"|"connection-closed",
// conn, cn, authorized, requests}; the last 10000 events are kept).
//
// Secrets (tokens, passwords, keys) are never stored, logged or echoed.
import https from "node:https";
import http from "node:http";
import http2 from "node:http2";
import { constants } from "node:crypto";
import {
  configureStreams,
  destroyStreams,
  onStreamUpgrade,
  streamRecords,
  streamRoute,
} from "./stream_server.mjs";
import * as store from "./object_store.mjs";

/** @type {{connections: object[], requests: object[]}} */
const records = { connections: [], requests: [] };
/** Every live TLS socket, for /destroy-connections. */
const liveSockets = new Set();
/** Every live HTTP/2 session, for /destroy-connections. */
const liveSessions = new Set();
/** Pending /wait-closed long-polls. */
const waiters = new Set();
/** Timers of pending watch and /slow responses. */
const timers = new Set();
/** Connection events for GET /events (newest last, capped). */
const events = [];
const MAX_EVENTS = 10_000;
let nextEventSeq = 1;
/** Pending /events long-polls. */
const eventWaiters = new Set();

function pushEvent(type, rec) {
  events.push({
    seq: nextEventSeq++,
    at: Date.now(),
    type,
    conn: rec.id,
    cn: rec.cn,
    authorized: rec.authorized,
    requests: rec.requests,
  });
  if (events.length > MAX_EVENTS) events.splice(0, events.length - MAX_EVENTS);
  for (const w of eventWaiters) w.finish();
}

function eventsSince(since) {
  let i = events.length;
  while (i > 0 && events[i - 1].seq > since) i--;
  return events.slice(i);
}
let nextConnId = 1;
let nextRequestId = 1;
let stats = { connectionsOpened: 0, requests: 0, byStatus: {} };
let tokens = new Map();
let basic = [];
let config;

const CONN = Symbol("kubeauth.conn");

function setCredentials(partial) {
  if (partial.tokens) tokens = new Map(Object.entries(partial.tokens));
  if (partial.basic) {
    basic = partial.basic.map((b) => ({
      username: b.username,
      password: b.password,
    }));
  }
}

function status(code, reason, message) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    code,
  };
}

function sendJson(res, code, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function namesOf(value) {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** The connection record of the socket a request arrived on. */
function connOf(req) {
  const socket = req.httpVersionMajor === 2
    ? req.stream.session.socket
    : req.socket;
  return socket[CONN] ?? null;
}

function authenticate(req, conn) {
  const now = Date.now();
  if (
    conn && conn.authorized && conn.cn !== null &&
    now >= conn.validFrom && now < conn.validTo
  ) {
    return {
      user: conn.cn,
      groups: [...conn.orgs, "system:authenticated"],
      scheme: "cert",
    };
  }
  const h = req.headers.authorization ?? "";
  const m = /^(\S+)\s+(.*)$/.exec(h);
  if (m && m[1].toLowerCase() === "bearer") {
    const user = tokens.get(m[2].replace(/^[ \t]+|[ \t]+$/g, ""));
    if (user !== undefined) {
      return { user, groups: ["system:authenticated"], scheme: "bearer" };
    }
  } else if (m && m[1].toLowerCase() === "basic") {
    const decoded = Buffer.from(m[2].trim(), "base64").toString("utf8");
    const i = decoded.indexOf(":");
    const username = decoded.slice(0, i);
    const password = decoded.slice(i + 1);
    if (
      i >= 0 &&
      basic.some((b) => b.username === username && b.password === password)
    ) {
      return {
        user: username,
        groups: ["system:authenticated"],
        scheme: "basic",
      };
    }
  }
  return null;
}

function pod(i) {
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: {
      name: `pod-${i}`,
      namespace: "default",
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      resourceVersion: String(1000 + i),
    },
    spec: { containers: [{ name: "main", image: "busybox" }] },
    status: { phase: "Running" },
  };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function redactedHeaders(req) {
  const out = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (k.startsWith(":")) continue;
    if (k === "authorization" || k === "proxy-authorization") {
      out[k] = String(v).split(/\s+/)[0];
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** Calls fn after ms unless the response closes first. */
function later(res, ms, fn) {
  const t = setTimeout(() => {
    timers.delete(t);
    fn();
  }, ms);
  timers.add(t);
  res.on("close", () => {
    clearTimeout(t);
    timers.delete(t);
  });
}

function watch(res, url) {
  const interval = Number(url.searchParams.get("intervalMs") ?? 200);
  const countParam = url.searchParams.get("count");
  const count = countParam === null ? Infinity : Number(countParam);
  res.writeHead(200, {
    "content-type": "application/json",
    "cache-control": "no-cache",
  });
  let sent = 0;
  // One timer at a time and one close listener per stream (not per event).
  let timer = null;
  res.on("close", () => {
    if (timer !== null) {
      clearTimeout(timer);
      timers.delete(timer);
      timer = null;
    }
  });
  const emit = () => {
    if (res.destroyed || res.writableEnded) return;
    if (sent >= count) {
      res.end();
      return;
    }
    sent++;
    res.write(JSON.stringify({ type: "ADDED", object: pod(sent) }) + "\n");
    if (sent >= count) {
      res.end();
      return;
    }
    timer = setTimeout(() => {
      timers.delete(timer);
      timer = null;
      emit();
    }, interval);
    timers.add(timer);
  };
  emit();
}

async function route(req, res, url, auth, conn) {
  const method = req.method;
  const path = url.pathname;
  if (path === "/version" && method === "GET") {
    return sendJson(res, 200, {
      major: "1",
      minor: "32",
      gitVersion: "v1.32.0-kubeauth-demo",
      gitCommit: "0000000000000000000000000000000000000000",
      gitTreeState: "clean",
      buildDate: "2026-01-01T00:00:00Z",
      goVersion: "go1.23.0",
      compiler: "gc",
      platform: "linux/amd64",
    });
  }
  if (path === "/api/v1/namespaces" && method === "GET") {
    return sendJson(res, 200, {
      kind: "NamespaceList",
      apiVersion: "v1",
      metadata: { resourceVersion: "1000" },
      items: ["default", "kube-system", "kube-public"].map((name, i) => ({
        metadata: {
          name,
          uid: `00000000-0000-4000-9000-${String(i).padStart(12, "0")}`,
          resourceVersion: String(10 + i),
        },
        spec: { finalizers: ["kubernetes"] },
        status: { phase: "Active" },
      })),
    });
  }
  if (path === "/api/v1/namespaces/default/pods" && method === "GET") {
    if (url.searchParams.get("watch") === "true") return watch(res, url);
    return sendJson(res, 200, {
      kind: "PodList",
      apiVersion: "v1",
      metadata: { resourceVersion: "1003" },
      items: [pod(1), pod(2), pod(3)],
    });
  }
  if (
    path === "/apis/authentication.k8s.io/v1/selfsubjectreviews" &&
    method === "POST"
  ) {
    await readBody(req);
    return sendJson(res, 201, {
      kind: "SelfSubjectReview",
      apiVersion: "authentication.k8s.io/v1",
      metadata: { creationTimestamp: null },
      status: { userInfo: { username: auth.user, groups: auth.groups } },
    });
  }
  if (path === "/echo" && (method === "GET" || method === "POST")) {
    const body = await readBody(req);
    return sendJson(res, 200, {
      user: auth.user,
      cn: conn ? conn.cn : null,
      conn: conn ? conn.id : null,
      authScheme: auth.scheme,
      method,
      path: url.pathname + url.search,
      headers: redactedHeaders(req),
      body,
    });
  }
  if (path === "/slow" && method === "GET") {
    const ms = Number(url.searchParams.get("ms") ?? 1000);
    return later(res, ms, () => {
      sendJson(res, 200, { ok: true, ms, conn: conn ? conn.id : null });
    });
  }
  if (path === "/redirect" && method === "GET") {
    const to = url.searchParams.get("to") ?? "/version";
    const code = Number(url.searchParams.get("status") ?? 302);
    res.writeHead(code, { location: to, "content-length": 0 });
    return res.end();
  }
  if (streamRoute(req, res, url, auth, sendJson)) return;
  if (store.handles(path)) return store.route(req, res, url);
  return sendJson(
    res,
    404,
    status(404, "NotFound", `the server could not find the requested resource`),
  );
}

async function onRequest(req, res) {
  const startedAt = Date.now();
  const conn = connOf(req);
  if (conn) conn.requests++;
  const url = new URL(req.url, "https://127.0.0.1");
  const headerId = req.headers["x-request-id"];
  const record = {
    id: typeof headerId === "string" ? headerId : String(nextRequestId++),
    conn: conn ? conn.id : 0,
    cn: conn ? conn.cn : null,
    user: null,
    authScheme: null,
    method: req.method,
    path: url.pathname + url.search,
    status: 0,
    completed: false,
    startedAt,
    endedAt: null,
  };
  records.requests.push(record);
  stats.requests++;
  res.on("close", () => {
    // status stays 0 when the client went away before any response header.
    record.status = res.headersSent ? res.statusCode : 0;
    record.completed = res.writableFinished;
    record.endedAt = Date.now();
    const key = String(record.status);
    stats.byStatus[key] = (stats.byStatus[key] ?? 0) + 1;
  });
  try {
    if (url.pathname === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" });
      return res.end("ok");
    }
    const auth = authenticate(req, conn);
    if (!auth) {
      req.resume();
      return sendJson(res, 401, status(401, "Unauthorized", "Unauthorized"));
    }
    record.user = auth.user;
    record.authScheme = auth.scheme;
    await route(req, res, url, auth, conn);
  } catch (err) {
    process.stderr.write(`cluster server: ${err?.stack ?? err}\n`);
    if (!res.headersSent) {
      sendJson(res, 500, status(500, "InternalError", String(err?.message)));
    } else res.destroy();
  }
}

function checkWaiters() {
  for (const w of waiters) {
    if (w.ids.every((id) => isClosed(id))) w.finish();
  }
}

function isClosed(id) {
  const c = records.connections.find((c) => c.id === id);
  // Unknown ids (never opened, or cleared by /reset) count as closed.
  return !c || c.closedAt !== null;
}

function onSecureConnection(socket) {
  const peer = socket.getPeerCertificate();
  const hasCert = peer && Object.keys(peer).length > 0;
  const subject = hasCert ? peer.subject ?? {} : {};
  const cn = namesOf(subject.CN)[0] ?? null;
  const rec = {
    id: nextConnId++,
    cn: socket.authorized ? cn : null,
    presentedCn: cn,
    authorized: socket.authorized,
    authorizationError: socket.authorizationError
      ? String(socket.authorizationError)
      : null,
    openedAt: Date.now(),
    closedAt: null,
    requests: 0,
    alpn: socket.alpnProtocol || null,
    sessionReused: socket.isSessionReused(),
    tlsVersion: socket.getProtocol(),
  };
  // Kept out of the JSON record; used by authenticate().
  Object.defineProperties(rec, {
    orgs: { value: namesOf(subject.O), enumerable: false },
    validFrom: {
      value: hasCert ? Date.parse(peer.valid_from) : 0,
      enumerable: false,
    },
    validTo: {
      value: hasCert ? Date.parse(peer.valid_to) : 0,
      enumerable: false,
    },
  });
  socket[CONN] = rec;
  records.connections.push(rec);
  stats.connectionsOpened++;
  liveSockets.add(socket);
  pushEvent("connection-opened", rec);
  socket.on("close", () => {
    liveSockets.delete(socket);
    rec.closedAt = Date.now();
    pushEvent("connection-closed", rec);
    checkWaiters();
  });
}

function startApiServer() {
  const tlsOptions = {
    key: config.serverKeyPem,
    cert: config.serverCertPem,
    ca: config.caPem,
    requestCert: true,
    rejectUnauthorized: !!config.requireClientCert,
  };
  if (!config.sessionResumption) {
    // No tickets, and (no resumeSession listener) no stateful cache either:
    // a resumed session would keep the previous identity.
    tlsOptions.secureOptions = constants.SSL_OP_NO_TICKET;
  }
  let server;
  if (config.http2) {
    server = http2.createSecureServer(
      { ...tlsOptions, allowHTTP1: true },
      onRequest,
    );
    server.on("session", (session) => {
      liveSessions.add(session);
      session.on("close", () => liveSessions.delete(session));
    });
  } else {
    server = https.createServer(tlsOptions, onRequest);
    server.keepAliveTimeout = 120_000;
    server.headersTimeout = 130_000;
    server.requestTimeout = 0;
  }
  server.setTimeout(0);
  server.on("secureConnection", onSecureConnection);
  // Stream endpoints (exec, attach, portforward): see stream_server.mjs.
  server.on("upgrade", (req, socket, head) => {
    const conn = socket[CONN] ?? null;
    if (conn) conn.requests++;
    onStreamUpgrade(req, socket, head, (r) => authenticate(r, conn));
  });
  server.on("tlsClientError", () => {
    // A rejected handshake (bad client cert with requireClientCert, ...):
    // nothing to record, and nothing to crash on.
  });
  return server;
}

function controlHandler(req, res) {
  const url = new URL(req.url, "http://127.0.0.1");
  const p = url.pathname;
  if (req.method === "GET" && p === "/connections") {
    return sendJson(res, 200, records.connections);
  }
  if (req.method === "GET" && p === "/requests") {
    return sendJson(res, 200, records.requests);
  }
  if (req.method === "GET" && p === "/stats") {
    return sendJson(res, 200, {
      ...stats,
      connectionsOpen: liveSockets.size,
    });
  }
  if (req.method === "POST" && p === "/config") {
    return readBody(req).then((text) => {
      try {
        setCredentials(JSON.parse(text || "{}"));
      } catch (err) {
        return sendJson(res, 400, { ok: false, error: String(err?.message) });
      }
      sendJson(res, 200, { ok: true });
    });
  }
  if (req.method === "POST" && p === "/reset") {
    // Records of connections still open are kept (they may close later).
    records.connections = records.connections.filter((c) =>
      c.closedAt === null
    );
    records.requests = [];
    stats = {
      connectionsOpened: 0,
      requests: 0,
      byStatus: {},
    };
    req.resume();
    return sendJson(res, 200, { ok: true });
  }
  if (req.method === "POST" && p === "/destroy-connections") {
    const n = liveSockets.size;
    for (const s of liveSessions) s.destroy();
    for (const s of liveSockets) s.destroy();
    req.resume();
    return sendJson(res, 200, { ok: true, destroyed: n });
  }
  if (req.method === "GET" && p === "/wait-closed") {
    const ids = (url.searchParams.get("ids") ?? "").split(",")
      .filter((s) => s !== "").map(Number);
    const timeoutMs = Number(url.searchParams.get("timeoutMs") ?? 5000);
    const w = {
      ids,
      timer: null,
      finish() {
        waiters.delete(w);
        clearTimeout(w.timer);
        const open = ids.filter((id) => !isClosed(id));
        sendJson(
          res,
          200,
          open.length === 0 ? { ok: true } : { ok: false, open },
        );
      },
    };
    waiters.add(w);
    w.timer = setTimeout(() => w.finish(), timeoutMs);
    res.on("close", () => {
      waiters.delete(w);
      clearTimeout(w.timer);
    });
    if (ids.every((id) => isClosed(id))) w.finish();
    return;
  }
  if (req.method === "GET" && p === "/events") {
    const since = Number(url.searchParams.get("since") ?? 0);
    const timeoutMs = Number(url.searchParams.get("timeoutMs") ?? 0);
    const w = {
      timer: null,
      finish() {
        eventWaiters.delete(w);
        clearTimeout(w.timer);
        sendJson(res, 200, {
          seq: nextEventSeq - 1,
          events: eventsSince(since),
        });
      },
    };
    if (eventsSince(since).length > 0 || !(timeoutMs > 0)) return w.finish();
    eventWaiters.add(w);
    w.timer = setTimeout(() => w.finish(), timeoutMs);
    res.on("close", () => {
      eventWaiters.delete(w);
      clearTimeout(w.timer);
    });
    return;
  }
  if (req.method === "GET" && p === "/healthz") {
    return sendJson(res, 200, { ok: true });
  }
  if (req.method === "GET" && p === "/streams") {
    return sendJson(res, 200, streamRecords);
  }
  if (req.method === "POST" && p === "/stream-config") {
    return readBody(req).then((text) => {
      configureStreams(JSON.parse(text || "{}"));
      sendJson(res, 200, { ok: true });
    });
  }
  if (req.method === "POST" && p === "/destroy-streams") {
    destroyStreams();
    req.resume();
    return sendJson(res, 200, { ok: true });
  }
  if (p.startsWith("/store/") && store.control(req, res, p)) return;
  sendJson(res, 404, { ok: false, error: `no control route ${p}` });
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server.address().port));
  });
}

async function main(line) {
  config = JSON.parse(line);
  for (const k of ["caPem", "serverCertPem", "serverKeyPem"]) {
    if (typeof config[k] !== "string") {
      throw new Error(`config.${k} must be a PEM string`);
    }
  }
  setCredentials({ tokens: config.tokens ?? {}, basic: config.basic ?? [] });
  const api = startApiServer();
  const control = http.createServer(controlHandler);
  control.keepAliveTimeout = 1000;
  const [port, controlPort] = await Promise.all([listen(api), listen(control)]);
  process.stdout.write(JSON.stringify({ port, controlPort }) + "\n");
}

// ---- stdin: first line = config; EOF = exit.
let buffered = "";
let started = false;
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  if (started) return;
  buffered += chunk;
  const nl = buffered.indexOf("\n");
  if (nl < 0) return;
  started = true;
  const line = buffered.slice(0, nl);
  buffered = "";
  main(line).catch((err) => {
    process.stderr.write(`cluster server: failed to start: ${err?.message}\n`);
    process.exit(2);
  });
});
process.stdin.on("end", () => process.exit(0));
// A terminal's Ctrl-C reaches the whole process group: when a parent runs us
// (stdin is its pipe), stay up so it can read our records while it cleans
// up; we exit as soon as it closes stdin or dies.
if (!process.stdin.isTTY) {
  process.on("SIGINT", () => {});
}
process.stdin.on("error", () => process.exit(0));
