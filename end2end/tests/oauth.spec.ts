import { test, expect, hydrated, signIn } from "./fixtures";

// The sandbox demo provider is on: the console under test listens on loopback.
const badge = (page) => page.locator(".provider-head .badge").first();

test("the sandbox connects through its authorize page and keeps the session across the round trip (SECURITY B2)", async ({ page }) => {
  await signIn(page);
  await page.goto("/integrations");
  await hydrated(page);
  await page.getByRole("link", { name: "Sandbox (demo)", exact: true }).click();
  await expect(badge(page)).toHaveText("Not connected");

  await page.getByRole("link", { name: "Connect with Sandbox (demo)" }).click();
  await expect(page.getByRole("heading", { name: "Connect to the sandbox?" })).toBeVisible();
  await page.getByRole("button", { name: "Approve" }).click();

  await expect(page).toHaveURL(/\/integrations\/sandbox$/);
  await expect(badge(page)).toHaveText("Connected as Sandbox Demo User");
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();

  await page.getByText("Disconnect…").click();
  await page.getByRole("button", { name: "Disconnect Sandbox (demo)" }).click();
  await expect(badge(page)).toHaveText("Not connected");
});

test("Deny at the provider says so in plain words and connects nothing", async ({ page }) => {
  await signIn(page);
  await page.goto("/integrations/sandbox");
  await page.getByRole("link", { name: "Connect with Sandbox (demo)" }).click();
  await page.getByRole("button", { name: "Deny" }).click();
  await expect(page.getByRole("heading", { name: "You cancelled at the provider" })).toBeVisible();
  expect(page.url()).not.toContain("code=");
  await page.getByRole("link", { name: "Back to the integration" }).click();
  await expect(badge(page)).toHaveText("Not connected");
});

test("a grant the provider stopped honouring shows Needs re-auth, and Reconnect restores it (SECURITY E4)", async ({ page }) => {
  await signIn(page);
  await page.goto("/integrations/sandbox");
  await page.getByRole("link", { name: "Connect with Sandbox (demo)" }).click();
  await page.getByRole("button", { name: "Approve" }).click();
  await expect(badge(page)).toHaveText("Connected as Sandbox Demo User");
  await hydrated(page);

  // The sandbox's tokens live 61 s here, so a second later the token is due
  // for a refresh; the sandbox is told to refuse that refresh.
  await page.waitForTimeout(1_100);
  const faults = await page.request.post("/sandbox/faults", { data: { token: ["invalid_grant"] } });
  expect(faults.status()).toBe(204);
  await page.getByRole("button", { name: "Check connection" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "no longer accepts the stored authorization" }).first()).toBeVisible();
  await expect(badge(page)).toHaveText("Needs re-auth");
  await page.goto("/integrations");
  const card = page.getByRole("listitem").filter({ has: page.getByRole("heading", { name: "Sandbox (demo)", exact: true }) });
  await expect(card.getByText("Needs re-auth")).toBeVisible();

  await page.goto("/integrations/sandbox");
  await page.getByRole("link", { name: "Reconnect" }).click();
  await page.getByRole("button", { name: "Approve" }).click();
  await expect(badge(page)).toHaveText("Connected as Sandbox Demo User");
  await hydrated(page);
  await page.getByRole("button", { name: "Check connection" }).click();
  await expect(page.getByRole("status").filter({ hasText: "The connection works" })).toBeVisible();

  await page.getByText("Disconnect…").click();
  await page.getByRole("button", { name: "Disconnect Sandbox (demo)" }).click();
  await expect(badge(page)).toHaveText("Not connected");
});
