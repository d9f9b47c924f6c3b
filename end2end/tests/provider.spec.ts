import { test, expect, hydrated, signIn } from "./fixtures";

// The fake Acme Desk API started by playwright.config.ts (fake-provider.mjs).
const fakeUrl = `http://127.0.0.1:${process.env.FAKE_PROVIDER_PORT}`;
const goodKey = "acme_e2e_key_0123456789wxyz";

test("a card opens its provider page with what it syncs, its docs, and the OAuth redirect URI to copy", async ({ page, context, baseURL }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await signIn(page);
  await page.goto("/integrations");
  await hydrated(page);
  await page.getByRole("link", { name: "Linear", exact: true }).click();
  await expect(page).toHaveURL(/\/integrations\/linear$/);
  await expect(page.getByRole("heading", { level: 1, name: "Linear" })).toBeVisible();
  await expect(page.getByText("Syncs")).toBeVisible();
  await expect(page.getByRole("link", { name: /Linear API documentation/ })).toHaveAttribute("href", /^https:\/\//);
  const redirectUri = `${baseURL}/oauth/linear/callback`;
  await expect(page.getByRole("textbox", { name: "Redirect URI" })).toHaveValue(redirectUri);
  await page.getByRole("button", { name: "Copy the redirect URI" }).click();
  await expect(page.getByText("Copied to the clipboard.")).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(redirectUri);
  await page.getByRole("link", { name: "← All integrations" }).click();
  await expect(page).toHaveURL(/\/integrations$/);
});

test("the browser checks a field's format before anything is sent", async ({ page }) => {
  await signIn(page);
  await page.goto("/integrations/acme-desk");
  await hydrated(page);
  await page.getByLabel("Acme Desk URL").fill(fakeUrl);
  await page.getByLabel("Workspace (optional)").fill("Not Valid");
  await page.getByLabel("API token").fill("anything");
  await page.getByRole("button", { name: "Verify and connect" }).click();
  const mismatch = await page.getByLabel("Workspace (optional)").evaluate((input) => (input as HTMLInputElement).validity.patternMismatch);
  expect(mismatch).toBe(true);
  await expect(page.getByRole("alert")).toHaveCount(0);
});

test("a bad key is refused with the reason, a good one connects and is shown masked, and disconnect returns to Not connected", async ({ page }) => {
  await signIn(page);
  await page.goto("/integrations/acme-desk");
  await hydrated(page);
  await expect(page.locator(".provider-head .badge").first()).toHaveText("Not connected");

  await page.getByLabel("Acme Desk URL").fill(fakeUrl);
  await page.getByLabel("API token").fill("acme_e2e_wrong_key_0000");
  await page.getByRole("button", { name: "Verify and connect" }).click();
  await expect(page.getByRole("alert")).toContainText("Acme Desk refused the key (HTTP 401)");
  await expect(page.locator(".provider-head .badge").first()).toHaveText("Not connected");

  await page.getByLabel("API token").fill(goodKey);
  await page.getByRole("button", { name: "Verify and connect" }).click();
  await expect(page.locator(".provider-head .badge").first()).toHaveText("Connected as Acme E2E Support");
  await expect(page.getByRole("status").filter({ hasText: "Connected as Acme E2E Support." })).toBeVisible();
  await expect(page.getByText("••••••••wxyz")).toBeVisible();
  expect(await page.content()).not.toContain(goodKey);

  // The connected card comes first on the Integrations page.
  await page.getByRole("link", { name: "← All integrations" }).click();
  const first = page.getByRole("list", { name: "Integrations" }).getByRole("listitem").first();
  await expect(first).toContainText("Acme Desk");
  await expect(first).toContainText("Connected as Acme E2E Support");

  await first.getByRole("link", { name: "Acme Desk" }).click();
  await page.getByText("Disconnect…").click();
  await page.getByRole("button", { name: "Disconnect Acme Desk" }).click();
  await expect(page.locator(".provider-head .badge").first()).toHaveText("Not connected");
  await expect(page.getByRole("button", { name: "Verify and connect" })).toBeVisible();
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the credential form connects, shows errors and disconnects as plain forms", async ({ page }) => {
    await signIn(page);
    await page.goto("/integrations/acme-desk");
    await page.getByLabel("Acme Desk URL").fill(fakeUrl);
    await page.getByLabel("API token").fill("acme_e2e_wrong_key_0000");
    await page.getByRole("button", { name: "Verify and connect" }).click();
    await expect(page.getByRole("alert")).toContainText("Acme Desk refused the key (HTTP 401)");
    expect(page.url()).not.toContain("wrong_key");

    await page.getByLabel("Acme Desk URL").fill(fakeUrl);
    await page.getByLabel("API token").fill(goodKey);
    await page.getByRole("button", { name: "Verify and connect" }).click();
    await expect(page.locator(".provider-head .badge").first()).toHaveText("Connected as Acme E2E Support");
    await expect(page.getByText("••••••••wxyz")).toBeVisible();

    await page.getByText("Disconnect…").click();
    await page.getByRole("button", { name: "Disconnect Acme Desk" }).click();
    await expect(page.locator(".provider-head .badge").first()).toHaveText("Not connected");
  });
});
