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
