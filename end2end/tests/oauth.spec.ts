import { test, expect, hydrated, signIn } from "./fixtures";

// The sandbox demo provider is on: the console under test listens on loopback.
const badge = (page) => page.locator(".provider-head .badge").first();

test("the sandbox connects through its authorize page and keeps the session across the round trip (SECURITY B2)", async ({ page }) => {
  await signIn(page);
  await page.goto("/integrations");
  await hydrated(page);
  await page.getByRole("link", { name: "Sandbox (demo)", exact: true }).click();
  await expect(badge(page)).toHaveText("Not connected");

  await page.getByRole("button", { name: "Connect with Sandbox (demo)" }).click();
  // The provider is another site: the console is 127.0.0.1, the sandbox localhost.
  await expect(page).toHaveURL(/^http:\/\/localhost:\d+\/sandbox\/oauth\/authorize\?/);
  await expect(page.getByRole("heading", { name: "Connect to the sandbox?" })).toBeVisible();
  await page.getByRole("button", { name: "Approve" }).click();

  // Back on the console's own site, still signed in: the cross-site
  // redirect carried the session cookie (SameSite=Lax, not Strict).
  await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1:\d+\/integrations\/sandbox$/);
  await expect(badge(page)).toHaveText("Connected as Sandbox Demo User");
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();

  await page.getByText("Disconnect…").click();
  await page.getByRole("button", { name: "Disconnect Sandbox (demo)" }).click();
  await expect(badge(page)).toHaveText("Not connected");
});

test("Deny at the provider says so in plain words and connects nothing", async ({ page }) => {
  await signIn(page);
  await page.goto("/integrations/sandbox");
  await page.getByRole("button", { name: "Connect with Sandbox (demo)" }).click();
  await page.getByRole("button", { name: "Deny" }).click();
  await expect(page.getByRole("heading", { name: "You cancelled at the provider" })).toBeVisible();
  expect(page.url()).not.toContain("code=");
  await page.getByRole("link", { name: "Back to the integration" }).click();
  await expect(badge(page)).toHaveText("Not connected");
});

/** Disconnects the sandbox if an earlier (failed) try left it connected. */
async function startDisconnected(page) {
  await page.goto("/integrations/sandbox");
  await hydrated(page);
  if (await page.getByText("Disconnect…").count()) {
    await page.getByText("Disconnect…").click();
    await page.getByRole("button", { name: "Disconnect Sandbox (demo)" }).click();
  }
  await expect(badge(page)).toHaveText("Not connected");
}

test("a grant the provider stopped honouring shows Needs re-auth, and Reconnect restores it (SECURITY E4)", async ({ page }) => {
  await signIn(page);
  await startDisconnected(page);
  await page.getByRole("button", { name: "Connect with Sandbox (demo)" }).click();
  await page.getByRole("button", { name: "Approve" }).click();
  await expect(badge(page)).toHaveText("Connected as Sandbox Demo User");
  await hydrated(page);

  // The sandbox's tokens live 61 s here, so two seconds later (expiry is
  // kept in whole seconds) the token is due for a refresh; the sandbox is
  // told to refuse that refresh.
  await page.waitForTimeout(2_100);
  const faults = await page.request.post("/sandbox/faults", { data: { token: ["invalid_grant"] } });
  expect(faults.status()).toBe(204);
  await page.getByRole("button", { name: "Check connection" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "no longer accepts the stored authorization" }).first()).toBeVisible();
  await expect(badge(page)).toHaveText("Needs re-auth");
  await page.goto("/integrations");
  const card = page.getByRole("listitem").filter({ has: page.getByRole("heading", { name: "Sandbox (demo)", exact: true }) });
  await expect(card.getByText("Needs re-auth")).toBeVisible();

  await page.goto("/integrations/sandbox");
  await page.getByRole("button", { name: "Reconnect" }).click();
  await page.getByRole("button", { name: "Approve" }).click();
  await expect(badge(page)).toHaveText("Connected as Sandbox Demo User");
  await hydrated(page);
  await page.getByRole("button", { name: "Check connection" }).click();
  await expect(page.getByRole("status").filter({ hasText: "The connection works" })).toBeVisible();

  await page.getByText("Disconnect…").click();
  await page.getByRole("button", { name: "Disconnect Sandbox (demo)" }).click();
  await expect(badge(page)).toHaveText("Not connected");
});

test("an admin enters an OAuth app under Settings, and the provider can then be connected", async ({ page }) => {
  await signIn(page);
  await page.goto("/integrations/linear");
  await expect(page.getByText("No OAuth app is configured for Linear")).toBeVisible();
  await page.getByRole("link", { name: "Settings → OAuth apps" }).click();
  await expect(page).toHaveURL(/\/settings#oauth-apps$/);
  await hydrated(page);

  const linear = page.getByRole("listitem").filter({ has: page.getByRole("heading", { name: "Linear", exact: true }) });
  await expect(linear.getByText("No OAuth app yet")).toBeVisible();
  await linear.getByText("Enter an app").click();
  await linear.getByLabel("Client id").fill("e2e-linear-client");
  await linear.getByLabel("Client secret").fill("e2e-linear-secret-canary");
  await linear.getByRole("button", { name: "Save the app for Linear" }).click();
  await expect(page.getByRole("status").filter({ hasText: "The OAuth app for Linear is saved." })).toBeVisible();
  await expect(linear.getByText("Uses the app saved for your team (client id e2e-linear-client).")).toBeVisible();
  await expect(page.getByText("e2e-linear-secret-canary")).toHaveCount(0);
  await expect(linear.getByLabel("Client secret")).toHaveValue("");

  await page.goto("/integrations/linear");
  const connect = page.getByRole("button", { name: "Connect with Linear" });
  await expect(connect).toBeVisible();
  // The button posts the start (SECURITY B5).
  await expect(page.locator("form", { has: connect })).toHaveAttribute("action", "/oauth/linear/start");
  // Start the connect without following it to Linear (nothing outside is reachable).
  const start = await page.request.post("/oauth/linear/start", { maxRedirects: 0 });
  expect(start.status()).toBe(303);
  expect(start.headers()["location"]).toContain("client_id=e2e-linear-client");

  await page.goto("/settings");
  await hydrated(page);
  await linear.getByText("Change the app").click();
  await linear.getByRole("button", { name: "Remove the app for Linear" }).click();
  await expect(linear.getByText("No OAuth app yet")).toBeVisible();
});
