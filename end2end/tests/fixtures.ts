import { test as base, expect, type Page } from "@playwright/test";

// Every test fails on an uncaught page error or a console error: that is how
// a broken hydration (for example the wasm-opt trap in TOOLCHAIN.md) or a
// script refused by the Content-Security-Policy shows up. A server function
// that refuses bad input answers 400 or 422, which the browser reports as a
// failed resource; the page shows that refusal, so it is not a problem.
export const test = base.extend<{ problems: string[] }>({
  problems: [
    async ({ page }, use) => {
      const problems: string[] = [];
      page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
      page.on("console", (message) => {
        const refusal = /Failed to load resource: the server responded with a status of 4(00|22) /;
        if (message.type() === "error" && !refusal.test(message.text())) problems.push(`console error: ${message.text()}`);
      });
      await use(problems);
      expect(problems, "the page reported errors").toEqual([]);
    },
    { auto: true },
  ],
});

/**
 * Resolves once the WASM has hydrated the page (console or signed-out).
 * A page compiles the whole module (10 MB in a debug build) before it
 * hydrates, which on a busy 2-core machine can outlast the default 5 s.
 */
export async function hydrated(page: Page) {
  await expect(page.locator(".enhanced").first()).toBeAttached({ timeout: 15_000 });
}

export { expect };

export const admin = { team: "Acme", name: "Ada Admin", email: "ada@example.com", password: "correct horse battery staple" };

/**
 * Signs the page in as the admin: completes first-run set-up when the
 * server is fresh, otherwise signs in. Works with JavaScript on or off.
 */
export async function signIn(page: Page) {
  await page.goto("/integrations");
  if (page.url().endsWith("/setup")) {
    await page.getByLabel("Team name").fill(admin.team);
    await page.getByLabel("Your name").fill(admin.name);
    await page.getByLabel("Email").fill(admin.email);
    await page.getByLabel("Password").fill(admin.password);
    await page.getByRole("button", { name: "Create team" }).click();
  } else if (new URL(page.url()).pathname === "/login") {
    await page.getByLabel("Email").fill(admin.email);
    await page.getByLabel("Password").fill(admin.password);
    await page.getByRole("button", { name: "Sign in" }).click();
  }
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
}
