import { test, expect, hydrated, signIn } from "./fixtures";

const cards = (page) => page.getByRole("list", { name: "Integrations" }).getByRole("listitem");
const card = (page, name: string) => page.getByRole("listitem").filter({ has: page.getByRole("heading", { name, exact: true }) });

test("search and the category filter narrow the cards at once, keep the filter in the URL, and a link reproduces it", async ({ page }) => {
  await signIn(page);
  await page.goto("/integrations");
  await hydrated(page);
  const total = await cards(page).count();
  expect(total).toBeGreaterThan(20);
  // Every logo loaded: no broken images.
  const broken = await page.locator(".card img").evaluateAll((imgs) =>
    imgs.filter((img) => !(img as HTMLImageElement).complete || (img as HTMLImageElement).naturalWidth === 0).length);
  expect(broken).toBe(0);

  // A marker on the window survives only if no document loads again.
  await page.evaluate(() => ((window as any).__noReload = true));
  await page.getByLabel("Search").focus();
  await page.keyboard.type("lin");
  await expect(card(page, "Linear")).toBeVisible();
  await expect(card(page, "HubSpot")).toHaveCount(0);
  await expect(page).toHaveURL(/\/integrations\?q=lin$/);
  await expect(page.getByRole("status")).toHaveText(new RegExp(`of ${total} integrations`));

  await page.getByLabel("Search").fill("");
  await page.getByLabel("Category").selectOption({ label: "CRM" });
  await expect(card(page, "HubSpot")).toBeVisible();
  await expect(card(page, "Linear")).toHaveCount(0);
  await expect(page).toHaveURL(/\/integrations\?category=crm$/);
  expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);

  await page.goto("/integrations?q=hub&category=crm");
  await hydrated(page);
  await expect(page.getByLabel("Search")).toHaveValue("hub");
  await expect(page.getByLabel("Category")).toHaveValue("crm");
  await expect(cards(page)).toHaveCount(1);
  await expect(card(page, "HubSpot")).toContainText("Coming soon");

  await page.getByLabel("Search").fill("no such tool");
  await expect(page.getByRole("heading", { name: "No integration matches" })).toBeVisible();
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the filter form works as a plain GET form", async ({ page }) => {
    await signIn(page);
    await page.goto("/integrations");
    await page.getByLabel("Search").fill("linear");
    await page.getByRole("button", { name: "Filter" }).click();
    await expect(page).toHaveURL(/\/integrations\?q=linear&category=$/);
    await expect(cards(page)).toHaveCount(1);
    await expect(card(page, "Linear")).toContainText("Not connected");
  });
});
