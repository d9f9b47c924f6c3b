import { test as base, expect, type Page } from "@playwright/test";

// Every test fails on an uncaught page error or a console error: that is how
// a broken hydration (for example the wasm-opt trap in TOOLCHAIN.md) or a
// script refused by the Content-Security-Policy shows up.
export const test = base.extend<{ problems: string[] }>({
  problems: [
    async ({ page }, use) => {
      const problems: string[] = [];
      page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(`console error: ${message.text()}`);
      });
      await use(problems);
      expect(problems, "the page reported errors").toEqual([]);
    },
    { auto: true },
  ],
});

/** Resolves once the WASM has hydrated the shell. */
export async function hydrated(page: Page) {
  await expect(page.locator(".app.enhanced")).toBeAttached();
}

export { expect };
