// Run by tests/permissions_test.ts under Deno without --allow-env: prints
// the code and message of what createAuthedFetch (no kubeconfig option, so
// $KUBECONFIG or ~/.kube/config) fails with.
import { createAuthedFetch } from "../../src/fetch/authed_fetch.ts";

try {
  const kube = await createAuthedFetch();
  await kube.close();
  console.log("no error");
} catch (err) {
  const e = err as { code?: string; message?: string; name?: string };
  console.log(
    JSON.stringify({ code: e.code, name: e.name, message: e.message }),
  );
}
