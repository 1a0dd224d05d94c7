// An in-memory ConfigMap store with watches, imported by cluster_server.mjs.
//
// API routes (authenticated by the server before they get here):
//   (discovery, GET /api/v1, is stream_server.mjs's, which lists configmaps too)
//   GET    /api/v1/namespaces/{ns}/configmaps[?watch=true&resourceVersion=RV&allowWatchBookmarks=true]
//   POST   /api/v1/namespaces/{ns}/configmaps          (201; 409 AlreadyExists)
//   GET    /api/v1/namespaces/{ns}/configmaps/{name}   (404 NotFound)
//   PUT    /api/v1/namespaces/{ns}/configmaps/{name}   (200 MODIFIED)
//   DELETE /api/v1/namespaces/{ns}/configmaps/{name}   (200 DELETED)
// A watch first replays the events after `resourceVersion` (when it is older
// than the compacted history: one ERROR event carrying a 410 Expired Status,
// then the stream ends, as the API server does), then a BOOKMARK when
// `allowWatchBookmarks=true`, then streams new events as they happen.
//
// Control routes (POST, plain HTTP):
//   /store/compact          forget the history: older resourceVersions get 410
//   /store/drop-watches     destroy every open watch connection (a dropped connection)
//   /store/end-watches      end every open watch response cleanly
//   /store/reset            empty the store (history and objects)
//   GET /store/watches      {open: N, started: N} (watch streams open / started since reset)

/** @type {Map<string, any>} key "ns/name" → object */
let objects = new Map();
/** @type {{type: string, object: any, rv: number}[]} */
let history = [];
let rv = 2000;
let compactedRv = 0;
let watchesStarted = 0;
/** @type {Set<{ns: string, res: any}>} */
const watchers = new Set();

const COLLECTION = /^\/api\/v1\/namespaces\/([^/]+)\/configmaps$/;
const ITEM = /^\/api\/v1\/namespaces\/([^/]+)\/configmaps\/([^/]+)$/;

function statusBody(code, reason, message) {
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

function send(res, code, body) {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}"));
      } catch (err) {
        reject(err);
      }
    });
    req.on("error", reject);
  });
}

function record(type, object) {
  const event = { type, object, rv: Number(object.metadata.resourceVersion) };
  history.push(event);
  for (const w of watchers) {
    if (w.ns === object.metadata.namespace) writeEvent(w.res, event);
  }
}

function writeEvent(res, event) {
  if (res.destroyed || res.writableEnded) return;
  res.write(JSON.stringify({ type: event.type, object: event.object }) + "\n");
}

/** True when this module answers the path. */
export function handles(path) {
  return COLLECTION.test(path) || ITEM.test(path);
}

/** Answers one API request for the store. */
export function route(req, res, url) {
  const path = url.pathname;
  const item = ITEM.exec(path);
  if (item) return routeItem(req, res, item[1], decodeURIComponent(item[2]));
  const ns = COLLECTION.exec(path)[1];
  if (req.method === "GET" && url.searchParams.get("watch") === "true") {
    return watch(res, ns, url);
  }
  if (req.method === "GET") return list(res, ns);
  if (req.method === "POST") return create(req, res, ns);
  req.resume();
  return send(
    res,
    405,
    statusBody(405, "MethodNotAllowed", "method not allowed"),
  );
}

function list(res, ns) {
  const items = [...objects.values()].filter((o) =>
    o.metadata.namespace === ns
  );
  send(res, 200, {
    kind: "ConfigMapList",
    apiVersion: "v1",
    metadata: { resourceVersion: String(rv) },
    items,
  });
}

async function create(req, res, ns) {
  const body = await readJson(req);
  const name = body?.metadata?.name;
  if (typeof name !== "string" || name === "") {
    return send(
      res,
      422,
      statusBody(422, "Invalid", "metadata.name: Required value"),
    );
  }
  const key = `${ns}/${name}`;
  if (objects.has(key)) {
    return send(
      res,
      409,
      statusBody(409, "AlreadyExists", `configmaps "${name}" already exists`),
    );
  }
  const object = withMeta(body, ns, name);
  objects.set(key, object);
  record("ADDED", object);
  send(res, 201, object);
}

function withMeta(body, ns, name) {
  rv++;
  return {
    ...body,
    kind: "ConfigMap",
    apiVersion: "v1",
    metadata: {
      ...body.metadata,
      name,
      namespace: ns,
      uid: `00000000-0000-4000-a000-${String(rv).padStart(12, "0")}`,
      resourceVersion: String(rv),
    },
  };
}

async function routeItem(req, res, ns, name) {
  const key = `${ns}/${name}`;
  const current = objects.get(key);
  if (current === undefined) {
    req.resume();
    return send(
      res,
      404,
      statusBody(404, "NotFound", `configmaps "${name}" not found`),
    );
  }
  if (req.method === "GET") return send(res, 200, current);
  if (req.method === "PUT") {
    const object = withMeta(await readJson(req), ns, name);
    objects.set(key, object);
    record("MODIFIED", object);
    return send(res, 200, object);
  }
  if (req.method === "DELETE") {
    req.resume();
    objects.delete(key);
    rv++;
    const object = {
      ...current,
      metadata: { ...current.metadata, resourceVersion: String(rv) },
    };
    record("DELETED", object);
    return send(res, 200, object);
  }
  req.resume();
  return send(
    res,
    405,
    statusBody(405, "MethodNotAllowed", "method not allowed"),
  );
}

function watch(res, ns, url) {
  const from = Number(url.searchParams.get("resourceVersion") || rv);
  watchesStarted++;
  res.writeHead(200, {
    "content-type": "application/json",
    "cache-control": "no-cache",
  });
  // The API server sends the headers at once, before any event.
  res.flushHeaders();
  if (from < compactedRv) {
    const gone = statusBody(
      410,
      "Expired",
      `too old resource version: ${from} (${compactedRv})`,
    );
    res.end(JSON.stringify({ type: "ERROR", object: gone }) + "\n");
    return;
  }
  for (const event of history) {
    if (event.rv > from && event.object.metadata.namespace === ns) {
      writeEvent(res, event);
    }
  }
  if (url.searchParams.get("allowWatchBookmarks") === "true") {
    writeEvent(res, {
      type: "BOOKMARK",
      object: {
        kind: "ConfigMap",
        apiVersion: "v1",
        metadata: { resourceVersion: String(rv) },
      },
    });
  }
  const w = { ns, res };
  watchers.add(w);
  res.on("close", () => watchers.delete(w));
}

/** Answers a control request under /store/, or returns false. */
export function control(req, res, p) {
  if (req.method === "GET" && p === "/store/watches") {
    return send(res, 200, { open: watchers.size, started: watchesStarted }),
      true;
  }
  if (req.method !== "POST") return false;
  req.resume();
  if (p === "/store/compact") {
    compactedRv = rv;
    history = [];
  } else if (p === "/store/drop-watches") {
    for (const w of watchers) w.res.destroy();
    watchers.clear();
  } else if (p === "/store/end-watches") {
    for (const w of watchers) w.res.end();
    watchers.clear();
  } else if (p === "/store/reset") {
    objects = new Map();
    history = [];
    compactedRv = 0;
    watchesStarted = 0;
  } else return false;
  send(res, 200, { ok: true, resourceVersion: String(rv) });
  return true;
}
