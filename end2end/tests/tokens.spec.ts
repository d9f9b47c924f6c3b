import { test, expect, hydrated, signIn } from "./fixtures";

// The console whose sandbox sync.spec.ts connects and syncs (playwright.config.ts).
const base = `http://127.0.0.1:${process.env.E2E_SYNC_PORT}`;
test.use({ baseURL: base });

test("an admin searches the synced records, then creates an API token (shown once), sees it listed, uses it, and revokes it", async ({ page, request }) => {
  test.setTimeout(60_000);
  await signIn(page);
  await page.goto("/integrations/sandbox");
  const connect = page.getByRole("button", { name: "Connect with Sandbox (demo)" });
  if (await connect.isVisible()) {
    await hydrated(page);
    await connect.click();
    await page.getByRole("button", { name: "Approve" }).click();
    await expect(page).toHaveURL(/\/integrations\/sandbox$/);
  }

  // Search on the items view: the record whose title holds the words.
  await page.goto("/integrations/sandbox/items");
  await expect
    .poll(async () => {
      await page.reload();
      return page.getByRole("table").getByRole("link").count();
    }, { timeout: 30_000, intervals: [500] })
    .toBeGreaterThan(0);
  await hydrated(page);
  await page.getByRole("searchbox", { name: "Search Sandbox (demo) records" }).fill("item 4321");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(/\/integrations\/sandbox\/items\?q=item\+4321$/);
  await expect(page.getByText(/^1 record matching “item 4321”, best first\.$/)).toBeVisible();
  await expect(page.getByRole("table").getByRole("link").first()).toContainText("Item 4321");
  await page.getByRole("searchbox").fill("nosuchwordanywhere");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.getByRole("heading", { name: "Nothing matches" })).toBeVisible();
  await page.getByRole("link", { name: "Show all" }).click();
  await expect(page.getByText(/records, most recently changed first\.$/)).toBeVisible();

  // Settings → API tokens: create one; it is shown once.
  await page.goto("/settings");
  await hydrated(page);
  const panel = page.getByRole("region", { name: "API tokens" });
  await panel.getByText("Create a token").click();
  const name = `Knowledge platform ${Date.now()}`;
  await panel.getByLabel("Name").fill(name);
  await panel.getByLabel("Expires").selectOption("30");
  await panel.getByRole("button", { name: "Create the token" }).click();
  const shown = panel.getByTestId("new-api-token");
  await expect(shown).toHaveText(/^pb_[A-Za-z0-9_-]{40,}$/);
  const token = (await shown.textContent())!;
  const row = panel.getByRole("row").filter({ hasText: name });
  await expect(row).toContainText("records:read, connections:read, mcp");
  await expect(row).toContainText(`…${token.slice(-4)}`);
  await expect(row).toContainText("Active");

  // It reads the team's records.
  const records = await request.get(`${base}/api/v1/records?limit=1`, { headers: { Authorization: `Bearer ${token}` } });
  expect(records.status()).toBe(200);
  expect((await records.json()).records).toHaveLength(1);

  // Shown once: after a reload the page holds only its last four.
  await page.reload();
  await hydrated(page);
  expect(await page.content()).not.toContain(token);
  await expect(row).toContainText(`…${token.slice(-4)}`);
  // Its use is listed ("Last used" is the sixth column).
  await expect(row.getByRole("cell").nth(5)).toHaveText(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);

  // Revoked: listed so, and refused at once.
  await row.getByRole("button", { name: `Revoke ${name}` }).click();
  await expect(panel.getByRole("status").filter({ hasText: "Token revoked" })).toBeVisible();
  await expect(row).toContainText("Revoked");
  await expect(row.getByRole("button")).toHaveCount(0);
  const refused = await request.get(`${base}/api/v1/records?limit=1`, { headers: { Authorization: `Bearer ${token}` } });
  expect(refused.status()).toBe(401);
  expect((await refused.json()).error.code).toBe("unauthorized");
});
