import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";
import { describe, expect, inject, it } from "vitest";
import { call, gatewayUrl, waitForRun } from "./gatewayClient.js";

// Debian's Chromium (installed by `npm test`'s set-up); flags as this machine needs them (no network).
const chromiumArgs = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
// QUIRE_UPDATE_SCREENSHOTS=1 refreshes the picture the README shows; otherwise it goes to the stack's folder.
const screenshotDir = process.env.QUIRE_UPDATE_SCREENSHOTS === "1" ? resolve(import.meta.dirname, "../../docs/img") : join(inject("stackHome"), "screenshots");

describe("the dashboard", () => {
  it("submits a run from the page and moves its bar to 100 % from the live stream", async () => {
    const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: chromiumArgs });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 520 } });
      await page.goto(`${gatewayUrl()}/dashboard`);
      await page.getByText("live").waitFor({ timeout: 15_000 });
      const premise = `Dashboard book ${Date.now()} [mock:delay=60]`;
      await page.fill("input[name=premise]", premise);
      await page.fill("input[name=category]", "dashboard-test");
      await page.click("button[type=submit]");

      const row = page.locator("tr", { hasText: premise });
      await row.waitFor({ timeout: 15_000 });
      // The bar moves while the run is going (an intermediate percent shows up) ...
      await expect.poll(async () => Number((await row.locator(".bar em").innerText()).replace("%", "")), { timeout: 120_000, interval: 100 }).toBeGreaterThan(0);
      // ... and reaches 100 % with the run completed, without a reload.
      await row.locator(".status.completed").waitFor({ timeout: 180_000 });
      expect(await row.locator(".bar em").innerText()).toBe("100%");
      expect(await page.locator("table[data-category=dashboard-test]").count()).toBe(1);

      const runs = (await call("/orchestrator/runs?category=dashboard-test")).body.runs;
      const run = runs.find((r: any) => r.premise === premise);
      expect((await waitForRun(run.runId)).status).toBe("completed");

      mkdirSync(screenshotDir, { recursive: true });
      const file = join(screenshotDir, "dashboard.png");
      await page.screenshot({ path: file });
      expect(readFileSync(file).subarray(1, 4).toString()).toBe("PNG");
    } finally {
      await browser.close();
    }
  });

  it("shows a run's text as text: markup in a premise is displayed, not run", async () => {
    const premise = `Markup book ${Date.now()} <img src=x onerror="document.title='injected'"> & more`;
    const { body } = await call("/orchestrator/run", { body: { idea: { premise, category: "dashboard-markup" }, stages: ["idea_intake"] } });
    await waitForRun(body.runId);
    const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: chromiumArgs });
    try {
      const page = await browser.newPage();
      await page.goto(`${gatewayUrl()}/dashboard`);
      const row = page.locator("tr", { hasText: premise });
      await row.waitFor({ timeout: 15_000 });
      expect(await row.locator("td").first().innerText()).toBe(premise);
      expect(await row.locator("img").count()).toBe(0);
      expect(await page.title()).not.toBe("injected");
    } finally {
      await browser.close();
    }
  });
});
