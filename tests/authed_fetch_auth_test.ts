import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createAuthedFetch } from "../src/fetch/authed_fetch.ts";
import { makeCredentials } from "../src/credentials/credentials.ts";
import { KubeauthError } from "../src/errors.ts";
import {
  demoPluginExec,
  makeTempDir,
  pluginRuns,
  startCluster,
  writeKubeconfig,
} from "./support/harness.ts";
import type { TestCluster } from "./support/harness.ts";
import {
  kubeconfigFor,
  pollUntil,
  TestSource,
} from "./support/authed_fetch.ts";
import type { Echo } from "./support/echo.ts";

let cluster: TestCluster;

before(async () => {
  cluster = await startCluster();
});

after(async () => {
  await cluster?.close();
});

/** A kubeconfig file whose user runs the demo plugin with these options. */
async function pluginKubeconfig(
  dir: string,
  opts: { mode: "cert" | "token"; prefix?: string; extraArgs?: string[] },
): Promise<string> {
  return await writeKubeconfig(
    dir,
    kubeconfigFor(cluster, {
      exec: demoPluginExec({
        stateDir: dir,
        caDir: cluster.dir,
        mode: opts.mode,
        tokenPrefix: opts.prefix,
        extraArgs: opts.extraArgs,
      }),
    }),
  );
}

test(
  "a 401 on a stale token runs the plugin exactly once more and the request succeeds on retry",
  {
    timeout: 60_000,
  },
  async () => {
    const state = await makeTempDir();
    await cluster.setTokens({ "stale-1": "demo-user-1" });
    const kube = await createAuthedFetch({
      kubeconfig: await pluginKubeconfig(state.path, {
        mode: "token",
        prefix: "stale",
      }),
    });
    try {
      const first = await (await kube("/echo")).json() as Echo;
      assert.equal(first.user, "demo-user-1");
      assert.equal(await pluginRuns(state.path), 1);
      // The server revokes token 1 and accepts only the next one.
      await cluster.setTokens({ "stale-2": "demo-user-2" });
      const res = await kube("/echo", {
        headers: { "x-request-id": "stale-r" },
      });
      assert.equal(res.status, 200);
      assert.equal((await res.json() as Echo).user, "demo-user-2");
      assert.equal(await pluginRuns(state.path), 2);
      const tries = (await cluster.requests()).filter((r) =>
        r.id === "stale-r"
      );
      assert.deepEqual(tries.map((r) => r.status), [401, 200]);
    } finally {
      await kube.close();
      await state.remove();
    }
  },
);

test(
  "200 concurrent requests hitting 401 together cause one refresh and all succeed",
  {
    timeout: 60_000,
  },
  async () => {
    const state = await makeTempDir();
    await cluster.setTokens({ "herd-1": "demo-user-1" });
    const kube = await createAuthedFetch({
      kubeconfig: await pluginKubeconfig(state.path, {
        mode: "token",
        prefix: "herd",
      }),
    });
    try {
      assert.equal((await kube("/echo")).status, 200);
      await cluster.setTokens({ "herd-2": "demo-user-2" });
      const results = await Promise.all(
        Array.from({ length: 200 }, async () => {
          const res = await kube("/echo");
          return [res.status, (await res.json() as Echo).user] as const;
        }),
      );
      for (const [status, user] of results) {
        assert.equal(status, 200);
        assert.equal(user, "demo-user-2");
      }
      assert.equal(await pluginRuns(state.path), 2);
    } finally {
      await kube.close();
      await state.remove();
    }
  },
);

test(
  "cold start: 500 concurrent requests share one plugin run and all succeed",
  {
    timeout: 60_000,
  },
  async () => {
    const state = await makeTempDir();
    const kube = await createAuthedFetch({
      kubeconfig: await pluginKubeconfig(state.path, { mode: "cert" }),
    });
    try {
      const results = await Promise.all(
        Array.from({ length: 500 }, async () => {
          const res = await kube("/echo");
          return [res.status, (await res.json() as Echo).cn] as const;
        }),
      );
      for (const [status, cn] of results) {
        assert.equal(status, 200);
        assert.equal(cn, "demo-user-1");
      }
      assert.equal(await pluginRuns(state.path), 1);
    } finally {
      await kube.close();
      await state.remove();
    }
  },
);

test(
  "aborting while waiting for a slow plugin rejects that call only; the shared run goes on",
  {
    timeout: 60_000,
  },
  async () => {
    const state = await makeTempDir();
    const kube = await createAuthedFetch({
      kubeconfig: await pluginKubeconfig(state.path, {
        mode: "cert",
        extraArgs: ["--delay-ms", "1500"],
      }),
    });
    try {
      const controller = new AbortController();
      const aborted = kube("/echo", { signal: controller.signal });
      const patient = kube("/echo");
      let patientSettled = false;
      patient.finally(() => (patientSettled = true)).catch(() => {});
      await pollUntil(
        "the plugin to start",
        async () => (await pluginRuns(state.path)) >= 1 ? true : undefined,
      );
      controller.abort();
      await assert.rejects(aborted, (err: Error) => err.name === "AbortError");
      assert.equal(
        patientSettled,
        false,
        "rejected while the plugin was still running",
      );
      const res = await patient;
      assert.equal(res.status, 200);
      assert.equal((await res.json() as Echo).cn, "demo-user-1");
      assert.equal(await pluginRuns(state.path), 1);
    } finally {
      await kube.close();
      await state.remove();
    }
  },
);

test("a caller's Authorization header wins: no plugin run, no 401 handling", {
  timeout: 60_000,
}, async () => {
  const state = await makeTempDir();
  await cluster.setTokens({ "caller-token": "outsider" });
  const kube = await createAuthedFetch({
    kubeconfig: await pluginKubeconfig(state.path, { mode: "cert" }),
  });
  try {
    const res = await kube("/echo", {
      headers: { Authorization: "Bearer caller-token" },
    });
    const echo = await res.json() as Echo;
    assert.equal(echo.user, "outsider");
    assert.equal(echo.authScheme, "bearer");
    const denied = await kube("/echo", {
      headers: new Headers({ authorization: "Bearer wrong" }),
    });
    assert.equal(denied.status, 401);
    await denied.arrayBuffer();
    assert.equal(await pluginRuns(state.path), 0);
  } finally {
    await kube.close();
    await state.remove();
  }
});

test(
  "the 401 retry replays string, bytes, Blob, URLSearchParams and FormData bodies",
  {
    timeout: 30_000,
  },
  async () => {
    let n = 0;
    const tokens: Record<string, string> = {};
    const source = new TestSource({ token: "never-valid" });
    source.onRefresh = async () => {
      const token = `replay-${++n}`;
      tokens[token] = "replayer";
      await cluster.setTokens(tokens);
      return makeCredentials({ token });
    };
    const kube = await createAuthedFetch({
      kubeconfig: kubeconfigFor(cluster),
      credentialSource: source,
    });
    try {
      const form = new FormData();
      form.set("field", "value");
      const bodies: [string, BodyInit, (text: string) => boolean][] = [
        ["string", "hello", (t) => t === "hello"],
        ["Uint8Array", new TextEncoder().encode("bytes"), (t) => t === "bytes"],
        [
          "ArrayBuffer",
          new TextEncoder().encode("ab").buffer,
          (t) => t === "ab",
        ],
        ["Blob", new Blob(["blob"]), (t) => t === "blob"],
        [
          "URLSearchParams",
          new URLSearchParams({ a: "1" }),
          (t) => t === "a=1",
        ],
        ["FormData", form, (t) => t.includes("value")],
      ];
      for (const [name, body, check] of bodies) {
        source.rotate({ token: `stale-${name}` }); // the server does not know it
        const before = source.refreshes;
        const res = await kube("/echo", { method: "POST", body });
        assert.equal(res.status, 200, name);
        const echo = await res.json() as Echo;
        assert.equal(echo.user, "replayer");
        assert.ok(check(echo.body), `${name}: ${echo.body}`);
        assert.equal(source.refreshes, before + 1);
      }
    } finally {
      await kube.close();
    }
  },
);

test(
  "a 401 with a stream body is returned (cannot replay), after refreshing for the next request",
  {
    timeout: 30_000,
  },
  async () => {
    await cluster.setTokens({ "stream-good": "streamer" });
    const source = new TestSource({ token: "stream-bad" });
    source.onRefresh = () =>
      Promise.resolve(makeCredentials({ token: "stream-good" }));
    const kube = await createAuthedFetch({
      kubeconfig: kubeconfigFor(cluster),
      credentialSource: source,
    });
    try {
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new TextEncoder().encode("streamed"));
          c.close();
        },
      });
      const res = await kube("/echo", { method: "POST", body: stream });
      assert.equal(res.status, 401);
      await res.arrayBuffer();
      assert.equal(source.refreshes, 1);
      // A stream body works when the credentials are good.
      const ok = await kube("/echo", {
        method: "POST",
        body: new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(new TextEncoder().encode("again"));
            c.close();
          },
        }),
      });
      assert.equal(ok.status, 200);
      assert.equal((await ok.json() as Echo).body, "again");
    } finally {
      await kube.close();
    }
  },
);

test(
  "retryOnUnauthorized: false returns the 401 but refreshes for the next request",
  {
    timeout: 30_000,
  },
  async () => {
    await cluster.setTokens({ "noretry-good": "noretry" });
    const source = new TestSource({ token: "noretry-bad" });
    source.onRefresh = () =>
      Promise.resolve(makeCredentials({ token: "noretry-good" }));
    const kube = await createAuthedFetch({
      kubeconfig: kubeconfigFor(cluster),
      credentialSource: source,
      retryOnUnauthorized: false,
    });
    try {
      const res = await kube("/echo");
      assert.equal(res.status, 401);
      const status = await res.json() as { kind: string };
      assert.equal(status.kind, "Status");
      assert.equal(source.refreshes, 1);
      const next = await kube("/echo");
      assert.equal(next.status, 200);
      assert.equal((await next.json() as Echo).user, "noretry");
    } finally {
      await kube.close();
    }
  },
);

test("a refresh that fails after a 401 surfaces the credential error", {
  timeout: 30_000,
}, async () => {
  const source = new TestSource({ token: "fails-bad" });
  source.onRefresh = () =>
    Promise.reject(
      new KubeauthError(
        "EXEC_FAILED",
        "exec: executable x failed with exit code 1",
      ),
    );
  const kube = await createAuthedFetch({
    kubeconfig: kubeconfigFor(cluster),
    credentialSource: source,
  });
  try {
    await assert.rejects(
      kube("/echo"),
      (err) => err instanceof KubeauthError && err.code === "EXEC_FAILED",
    );
  } finally {
    await kube.close();
  }
});
