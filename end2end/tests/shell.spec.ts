import { test, expect, hydrated, signIn } from "./fixtures";

// The database the server under test uses (scripts/test.sh runs the release
// build against Postgres).
const backend = process.env.E2E_DATABASE_URL ? "postgres" : "sqlite";

const pages = [
  ["Integrations", "/integrations"],
  ["Activity", "/activity"],
  ["Team", "/team"],
  ["Settings", "/settings"],
] as const;

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("every page renders on the server with navigation and its content", async ({ page }) => {
    await signIn(page);
    await page.goto("/");
    await expect(page).toHaveURL(/\/integrations$/);
    await expect(page.getByRole("heading", { level: 1, name: "Integrations" })).toBeVisible();
    await expect(page.getByRole("heading", { level: 2, name: "Linear" })).toBeVisible();
    for (const [name, path] of pages) {
      await page.getByRole("navigation", { name: "Primary" }).getByRole("link", { name }).click();
      await expect(page).toHaveURL(new RegExp(`${path}$`));
      await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
      await expect(page).toHaveTitle(`${name} · Patchbay`);
    }
    // Settings read from the server are in the HTML itself.
    await expect(page.getByText(backend, { exact: true })).toBeVisible();
    // The menu button exists only once the app is interactive.
    await expect(page.getByRole("button", { name: "Menu" })).toHaveCount(0);
  });

  test("the stylesheet is served and applied", async ({ page }) => {
    await page.goto("/login");
    const background = await page.locator("body").evaluate((body) => getComputedStyle(body).backgroundColor);
    expect(background).not.toBe("rgba(0, 0, 0, 0)");
  });
});

test.describe("hydrated", () => {
  test.beforeEach(async ({ page }) => signIn(page));

  test("on a narrow screen the Menu button opens and closes the navigation", async ({ page }) => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto("/integrations");
    // The button is rendered by the WASM after hydration, never by the server.
    const menu = page.getByRole("button", { name: "Menu" });
    await expect(menu).toBeVisible();
    const nav = page.getByRole("navigation", { name: "Primary" });
    await expect(nav).toBeHidden();
    await expect(menu).toHaveAttribute("aria-expanded", "false");

    await menu.click();
    await expect(menu).toHaveAttribute("aria-expanded", "true");
    await expect(nav).toBeVisible();

    // Navigating closes the menu again.
    await nav.getByRole("link", { name: "Activity" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Activity" })).toBeVisible();
    await expect(menu).toHaveAttribute("aria-expanded", "false");
    await expect(nav).toBeHidden();

    // Escape closes it from the keyboard.
    await menu.click();
    await nav.getByRole("link", { name: "Team" }).focus();
    await page.keyboard.press("Escape");
    await expect(menu).toHaveAttribute("aria-expanded", "false");
  });

  test("navigation is client-side and Settings load through a server function", async ({ page }) => {
    await page.goto("/integrations");
    await hydrated(page);
    const documents: string[] = [];
    page.on("request", (request) => {
      if (request.resourceType() === "document") documents.push(request.url());
    });
    const serverFunction = page.waitForResponse((response) => response.url().endsWith("/api/about"));
    await page.getByRole("link", { name: "Settings" }).click();
    expect((await serverFunction).status()).toBe(200);
    await expect(page.getByRole("heading", { level: 1, name: "Settings" })).toBeVisible();
    await expect(page.getByText(backend, { exact: true })).toBeVisible();
    await expect(page.getByRole("link", { name: "Settings" })).toHaveAttribute("aria-current", "page");
    expect(documents, "no full page load happened").toEqual([]);
  });

  test("the skip link is the first tab stop and moves focus to the content", async ({ page }) => {
    await page.goto("/team");
    await hydrated(page);
    await page.keyboard.press("Tab");
    const skip = page.getByRole("link", { name: "Skip to content" });
    await expect(skip).toBeFocused();
    await expect(skip).toBeInViewport();
    await page.keyboard.press("Enter");
    await expect(page.locator("main")).toBeFocused();
  });

  test("an unknown address shows the not-found page with a way back", async ({ page, problems }) => {
    const response = await page.goto("/no/such/page");
    expect(response?.status()).toBe(404);
    // Chromium reports the 404 document itself as a console error; that one is expected.
    const expected = problems.findIndex((p) => p.includes("status of 404"));
    if (expected >= 0) problems.splice(expected, 1);
    await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
    await page.getByRole("link", { name: "Go to Integrations" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Integrations" })).toBeVisible();
  });
});
