import { test, expect, hydrated, signIn, admin } from "./fixtures";

test("an admin invites a teammate, who joins from a second browser, and both appear on Team", async ({ page, browser }) => {
  // Set up (on a fresh server) or sign in, then open Team.
  await signIn(page);
  await page.getByRole("navigation", { name: "Primary" }).getByRole("link", { name: "Team" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Team" })).toBeVisible();
  await hydrated(page);

  // Create a member invite and read the link shown once.
  await page.getByLabel("Role", { exact: true }).selectOption("member");
  await page.getByRole("button", { name: "Create invite link" }).click();
  const link = await page.getByLabel(/Invite link for a new member/).inputValue();
  expect(link).toMatch(/\/invite\/[A-Za-z0-9_-]{43}$/);
  await expect(page.getByRole("heading", { name: "Pending invites" })).toBeVisible();

  // The teammate accepts in a separate browser context (their own cookies).
  const teammate = `bob+${Date.now()}@example.com`;
  const context = await browser.newContext();
  const other = await context.newPage();
  await other.goto(link);
  await expect(other.getByRole("heading", { name: "Join your team" })).toBeVisible();
  await hydrated(other);
  await expect(other.getByText(admin.team)).toBeVisible();
  await other.getByLabel("Your name").fill("Bob Member");
  await other.getByLabel("Email").fill(teammate);
  await other.getByLabel("Password").fill("short");
  await other.getByRole("button", { name: "Join team" }).click();
  // A weak password is refused in words, beside the field.
  await expect(other.getByText("Use at least 12 characters")).toBeVisible();
  await other.getByLabel("Password").fill("another long passphrase");
  await other.getByRole("button", { name: "Join team" }).click();
  await expect(other.getByRole("button", { name: "Sign out" })).toBeVisible();
  await other.goto("/team");
  // Members see the team but cannot change it.
  await expect(other.getByRole("cell", { name: teammate })).toBeVisible();
  await expect(other.getByRole("button", { name: "Create invite link" })).toHaveCount(0);

  // Back in the admin's browser, both members are listed.
  await page.reload();
  await expect(page.getByRole("cell", { name: admin.email })).toBeVisible();
  await expect(page.getByRole("cell", { name: teammate })).toBeVisible();

  // The used link now says so.
  await other.goto(link);
  await expect(other.getByRole("heading", { name: "This invite has already been used" })).toBeVisible();
  await context.close();

  // Sign out: back to sign-in, and console pages stay closed.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto("/team");
  await expect(page).toHaveURL(/\/login\?next=%2Fteam$/);
});
