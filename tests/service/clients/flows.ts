// The issuer's and the bank's flows through a TypeScript client generated from the service's OpenAPI document
// (openapi-typescript types, openapi-fetch calls), as an integration engineer writes them: compiled with tsc
// against the generated types (an API change that breaks them fails to compile), then run under Node against a
// live service. The resident's part (enrol a key, collect, present) runs the resident page's own module.
// Input: the JSON file named by FLOW_INPUT. Output: one JSON line with what the Python test checks.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

import createClient from "openapi-fetch";

import type { components, paths } from "./schema.js";

type Problem = components["schemas"]["Problem"];
type Bundle = components["schemas"]["BundleOrPresentation"];
type Verdict = components["schemas"]["VerificationOut"];

interface Input {
  issuerUrl: string;
  bankUrl: string;
  bankKey: string;
  issuerKey: string;
  pagePresentation: string;
  certificates: Record<string, unknown>[];
  pickup: Record<string, unknown>;
  bundlesDir: string;
}

const input = JSON.parse(readFileSync(process.env.FLOW_INPUT ?? "", "utf8")) as Input;
const issuer = createClient<paths>({
  baseUrl: input.issuerUrl, headers: { Authorization: `Bearer ${input.issuerKey}` } });
const bank = createClient<paths>({ baseUrl: input.bankUrl, headers: { Authorization: `Bearer ${input.bankKey}` } });
const pickupPage = createClient<paths>({ baseUrl: input.issuerUrl });
const residentPage = createClient<paths>({ baseUrl: input.bankUrl });
const page = await import(pathToFileURL(input.pagePresentation).href);

/** The data of a successful answer; a problem fails the flow with its type and detail. */
function ok<T>(reply: { data?: T; error?: Problem | unknown; response: Response }): T {
  if (reply.data === undefined) {
    const problem = reply.error as Problem;
    throw new Error(`${reply.response.status} ${problem?.type}: ${problem?.detail}`);
  }
  return reply.data;
}

async function until<T>(what: string, poll: () => Promise<T | undefined>, seconds = 60): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const found = await poll();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// The issuer: submit certificates, offer one for pickup, follow the batches, revoke.
const once = () => ({ header: { "Idempotency-Key": crypto.randomUUID() } });
const submitted = ok(await issuer.POST("/v1/certificates", {
  params: once(), body: { certificates: input.certificates } }));
assert.equal(submitted.journalled, input.certificates.length);
// A pickup offer retried under its key: the first code again, not a new one.
const offering = { params: once(), body: { certificate: input.pickup } };
const offer = ok(await issuer.POST("/v1/pickups", offering));
assert.equal(ok(await issuer.POST("/v1/pickups", offering)).code, offer.code);

// The resident, on the pickup page: a key made on the device enrols with the code.
const holder = await page.generateHolderKey();
const jwk = await page.publicJwk(holder.publicKey);
const enrolled = ok(await pickupPage.POST("/resident/pickups/enrol", { body: { code: offer.code, jwk } }));

const batches = await until("every batch delivered", async () => {
  const seen: components["schemas"]["BatchOut"][] = [];
  let cursor: string | undefined;
  let pending = 0;
  do {  // a page of one batch at a time, to follow the cursors
    const listed = ok(await issuer.GET("/v1/batches", { params: { query: { limit: 1, cursor } } }));
    seen.push(...listed.batches);
    pending = listed.counts.pending ?? 0;
    cursor = listed.next ?? undefined;
  } while (cursor !== undefined);
  return pending === 0 && seen.length > 0 && seen.every((b) => b.state === "delivered") ? seen : undefined;
});
const pickup = ok(await issuer.GET("/v1/pickups/{reference}", { params: { path: { reference: offer.reference } } }));
assert.equal(pickup.state, "delivered");
const collected = ok(await pickupPage.POST("/resident/pickups/collect", {
  body: { collectToken: enrolled.collectToken } })) as Bundle;
const [first, second] = input.certificates.map((c) => String(c.reference));
const revoked = ok(await issuer.POST("/v1/revocations", {
  params: once(), body: { reference: second, reason: "withdrawn" } }));
assert.deepEqual(revoked, { revoked: second, reason: "withdrawn" });

// The bank: hand a challenge over at the counter; the resident's page answers it with the collected certificate.
const handed = ok(await bank.POST("/v1/challenges/hand-over", {
  params: { ...once(), query: { purpose: "ACCTOPEN" } } }));
const challenge = ok(await residentPage.POST("/resident/challenges", { body: { code: handed.code } }));
const presentation = await page.present(collected, challenge, holder, Math.floor(Date.now() / 1000));
const answered: Verdict = ok(await residentPage.POST("/resident/verifications", { body: presentation }));
assert.ok(answered.valid, JSON.stringify(answered.checks));
const state = ok(await bank.GET("/v1/challenges/hand-over/{code}", { params: { path: { code: handed.code } } }));
assert.equal(state.state, "answered");
assert.equal(state.verdict?.presentationHash, answered.presentationHash);

// Verify one bundle with a receipt, then a batch; follow the receipts until they are on chain.
const bundleOf = (reference: string) =>
  JSON.parse(readFileSync(`${input.bundlesDir}/${reference}.bundle.json`, "utf8")) as Bundle;
const one = ok(await bank.POST("/v1/verifications", {
  params: { ...once(), query: { purpose: "ACCTOPEN", case: "LOAN-2027-0042" } }, body: bundleOf(first) }));
assert.ok(one.valid && one.receipt, JSON.stringify(one.checks));
const many = ok(await bank.POST("/v1/verifications/batch", {
  body: { bundles: [bundleOf(first), bundleOf(second)] } }));
const failed = many[1].checks.filter((c) => c.outcome === "failed").map((c) => c.name);
const commitments = [one.receipt.commitment, state.receipt?.commitment ?? ""];
const recorded = [];
for (const commitment of commitments) {
  recorded.push(await until(`receipt ${commitment} recorded`, async () => {
    const receipt = ok(await bank.GET("/v1/receipts/{commitment}", { params: { path: { commitment } } }));
    return receipt.state === "recorded" ? receipt : undefined;
  }));
}
const nowhere = `0x${"11".repeat(32)}`;
const missing = await bank.GET("/v1/receipts/{commitment}", { params: { path: { commitment: nowhere } } });

console.log(JSON.stringify({
  batches: batches.length, pickup: pickup.state, collectedDocType: collected.document,
  valid: [answered.valid, one.valid, ...many.map((v) => v.valid)], failed,
  recorded: recorded.map((r) => r.block), missing: { status: missing.response.status, type: missing.error?.type },
}));
