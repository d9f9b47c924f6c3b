import { test, expect, hydrated, signIn } from "./fixtures";

// The console whose sandbox sync.spec.ts connects (playwright.config.ts).
const base = `http://127.0.0.1:${process.env.E2E_SYNC_PORT}`;
test.use({ baseURL: base });

test("a sandbox change arrives as a webhook delivery, and Replay applies it again from the source", async ({ page, request }) => {
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
  const panel = page.getByRole("region", { name: "Webhooks" });
  // Connecting registers the webhook in the background.
  await expect
    .poll(async () => {
      await page.reload();
      return panel.locator(".job-line .badge").textContent();
    }, { timeout: 20_000, intervals: [500] })
    .toBe("Registered");

  // An edit at the sandbox arrives as a delivery and is applied.
  expect((await request.post(`${base}/sandbox/items/itm_42`, { data: { change: "edit" } })).status()).toBe(204);
  const row = panel.getByRole("row").filter({ hasText: "item.updated" }).first();
  await expect
    .poll(async () => {
      await page.reload();
      return (await row.count()) > 0 ? row.textContent() : "";
    }, { timeout: 20_000, intervals: [500] })
    .toContain("Applied: 1 stored");
  await expect(panel.getByText(/^[1-9]\d* events, 0 refused$/)).toBeVisible();

  // Another edit, whose delivery the sandbox forges: it is refused and
  // nothing changes, until Replay reads the item again.
  expect((await request.post(`${base}/sandbox/webhook-faults`, { data: { forge: 1.0 } })).status()).toBe(204);
  expect((await request.post(`${base}/sandbox/items/itm_42`, { data: { change: "edit" } })).status()).toBe(204);
  await expect
    .poll(async () => {
      await page.reload();
      return panel.getByText(/ events, [1-9]\d* refused$/).count();
    }, { timeout: 20_000, intervals: [500] })
    .toBe(1);
  expect((await request.post(`${base}/sandbox/webhook-faults`, { data: {} })).status()).toBe(204);
  await page.goto("/integrations/sandbox/items");
  await expect(page.getByRole("link", { name: "Item 42 (edited 1×)" })).toBeVisible();

  await page.goto("/integrations/sandbox");
  await hydrated(page);
  await panel.getByRole("row").filter({ hasText: "item.updated" }).first().getByRole("button", { name: "Replay" }).click();
  await expect(panel.getByRole("status").filter({ hasText: "Replay queued" })).toBeVisible();
  await expect
    .poll(async () => {
      await page.goto("/integrations/sandbox/items");
      return page.getByRole("link", { name: "Item 42 (edited 2×)" }).count();
    }, { timeout: 20_000, intervals: [500] })
    .toBe(1);
});
