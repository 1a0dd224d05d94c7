// Run by tests/permissions_test.ts under Deno without --allow-net: prints
// the code and message of what createAuthedFetch's request fails with.
import { createAuthedFetch } from "../../src/fetch/authed_fetch.ts";

const kube = await createAuthedFetch({ kubeconfig: Deno.args[0] });
try {
  await kube("/version");
  console.log("no error");
} catch (err) {
  const e = err as { code?: string; message?: string; name?: string };
  console.log(
    JSON.stringify({ code: e.code, name: e.name, message: e.message }),
  );
} finally {
  await kube.close();
}
