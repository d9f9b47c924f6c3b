import { devices, defineConfig } from "@playwright/test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

// The server under test is the real `patchbay` binary, started from the
// repository root (where its compiled site lives) with a fresh data dir.
// scripts/test.sh sets PATCHBAY_BIN (debug or release build) and E2E_PORT.
const repoRoot = resolve(__dirname, "..");
const bin = process.env.PATCHBAY_BIN ?? join(repoRoot, "target/debug/patchbay");
const port = process.env.E2E_PORT ?? "3917";
const baseURL = `http://127.0.0.1:${port}`;
// The fake provider API the credential-form tests connect to.
const fakeProviderPort = process.env.FAKE_PROVIDER_PORT ?? String(Number(port) + 1);
process.env.FAKE_PROVIDER_PORT = fakeProviderPort;
// A second console whose sandbox serves a backfill slow enough to watch
// (sync.spec.ts): 5,000 items at 10 requests a second, about five seconds.
// Its own data dir and SQLite, so its jobs and the main console's never mix.
const syncPort = process.env.E2E_SYNC_PORT ?? String(Number(port) + 2);
process.env.E2E_SYNC_PORT = syncPort;
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 5_000 },
  forbidOnly: !!process.env.CI,
  retries: process.env.CI ? 1 : 0,
  workers: 1,
  reporter: [["list"], ["html", { open: "never" }]],
  use: { baseURL, trace: "retain-on-failure" },
  webServer: [
    {
      command: "node fake-provider.mjs",
      url: `http://127.0.0.1:${fakeProviderPort}/healthz`,
      reuseExistingServer: false,
      timeout: 10_000,
      env: { FAKE_PROVIDER_PORT: fakeProviderPort },
    },
    {
      command: `"${bin}" serve`,
      cwd: repoRoot,
      url: `${baseURL}/readyz`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "pipe",
      stderr: "pipe",
      env: {
        PATCHBAY_BIND: `127.0.0.1:${port}`,
        PATCHBAY_DATA_DIR: mkdtempSync(join(tmpdir(), "patchbay-e2e-")),
        PATCHBAY_LOG: "warn",
        // Test providers (acme-desk and friends), as an operator's files.
        PATCHBAY_PROVIDERS_DIR: join(repoRoot, "server/tests/fixtures/providers"),
        // Sandbox tokens that are due for a refresh a second after they are
        // issued, so a test can make the refresh meet invalid_grant.
        PATCHBAY_SANDBOX_TOKEN_LIFE: "61",
        // The sandbox answers as another site (localhost beside the
        // console's 127.0.0.1), so the OAuth round trip crosses sites as
        // with a real provider and SameSite is exercised (SECURITY B2).
        PATCHBAY_SANDBOX_HOST: "localhost",
        // scripts/test.sh runs the release build against a fresh Postgres
        // database; otherwise SQLite in the data dir.
        ...(process.env.E2E_DATABASE_URL ? { DATABASE_URL: process.env.E2E_DATABASE_URL } : {}),
      },
    },
    {
      command: `"${bin}" serve`,
      cwd: repoRoot,
      url: `http://127.0.0.1:${syncPort}/readyz`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "pipe",
      stderr: "pipe",
      env: {
        PATCHBAY_BIND: `127.0.0.1:${syncPort}`,
        PATCHBAY_DATA_DIR: mkdtempSync(join(tmpdir(), "patchbay-e2e-sync-")),
        PATCHBAY_LOG: "warn",
        PATCHBAY_SANDBOX_ITEMS: "5000",
        PATCHBAY_SANDBOX_RATE_LIMIT: "10",
      },
    },
  ],
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        headless: true,
        launchOptions: {
          executablePath: chromiumPath,
          args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
          ],
        },
      },
    },
  ],
});
