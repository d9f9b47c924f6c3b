import { test, expect, hydrated, signIn } from "./fixtures";

// A console of its own whose sandbox serves 5,000 items at 10 requests a
// second (playwright.config.ts), so the first backfill takes a few seconds.
test.use({ baseURL: `http://127.0.0.1:${process.env.E2E_SYNC_PORT}` });

test("a newcomer connects the sandbox and watches its backfill complete live, then sees counts and the records", async ({ page }) => {
  test.setTimeout(60_000);
  await signIn(page);
  await page.goto("/integrations/sandbox");
  await hydrated(page);
  await page.getByRole("button", { name: "Connect with Sandbox (demo)" }).click();
  await page.getByRole("button", { name: "Approve" }).click();
  await expect(page).toHaveURL(/\/integrations\/sandbox$/);
  await hydrated(page);

  // A mark on this document: if the page reloaded, it would be gone.
  await page.evaluate(() => ((window as any).__sameDocument = true));
  const panel = page.getByRole("region", { name: "Sync", exact: true });
  const bar = panel.getByRole("progressbar", { name: "Sync progress" });

  // Read the bar as the server-sent events move it, until it is full.
  const seen: number[] = [];
  await expect
    .poll(
      async () => {
        const value = Number((await bar.getAttribute("value")) ?? "0");
        const max = Number((await bar.getAttribute("max")) ?? "0");
        if (max > 0) seen.push(Math.round((100 * value) / max));
        return panel.locator(".sync-current .badge").first().textContent();
      },
      { timeout: 45_000, intervals: [200] },
    )
    .toBe("Completed");
  expect(seen.some((p) => p > 0 && p < 100), `the bar never showed a step between empty and full: ${seen}`).toBe(true);
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);

  await expect(panel.getByText("5,000 of 5,000 records read (100%)")).toBeVisible();
  await expect(panel.getByText(/^[\d,]+ item$/)).toBeVisible();
  const stored = Number((await panel.locator(".counts strong").first().textContent())!.replace(/,/g, ""));
  expect(stored).toBeGreaterThan(4_000);
  await expect(panel.getByText("None yet")).toHaveCount(0);

  // The items view lists them, newest change first, linked to the sandbox.
  await panel.getByRole("link", { name: "View synced records" }).click();
  await expect(page.getByRole("heading", { name: "Sandbox (demo) records" })).toBeVisible();
  await expect(page.getByText(`${stored.toLocaleString("en-US")} records, most recently changed first.`)).toBeVisible();
  const first = page.getByRole("table").getByRole("link").first();
  await expect(first).toHaveAttribute("href", /\/sandbox\/items\/itm_\d+$/);
  await expect(page.getByRole("navigation", { name: "Pages" })).toContainText("Page 1 of");

  // Activity lists the backfill, and filters.
  await page.goto("/activity");
  await expect(page.getByRole("table")).toContainText("Full backfill");
  await expect(page.getByRole("table")).toContainText("Completed");
  await page.getByLabel("State").selectOption("failed");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page.getByText("No job matches these filters.")).toBeVisible();

  // Sync now, as an admin: queued, then completed again, live.
  await page.goto("/integrations/sandbox");
  await hydrated(page);
  await page.getByRole("button", { name: "Sync now" }).click();
  await expect(panel.getByRole("status")).toContainText("Sync queued");
  await expect(panel.getByText("Incremental sync", { exact: true })).toBeVisible({ timeout: 15_000 });
  await expect(panel.locator(".sync-current .badge").first()).toHaveText("Completed", { timeout: 15_000 });
});
