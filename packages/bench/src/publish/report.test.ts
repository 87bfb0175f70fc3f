import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { provenance } from "@blvnet/train";
import { chromium } from "playwright-core";
import { describe, expect, it } from "vitest";
import { writeRows } from "../sweep/store.js";
import { publish } from "./publish.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
// CI installs Debian's chromium (.ci/run); elsewhere the test is skipped with a reason rather than failing.
const haveChromium = existsSync(CHROMIUM);

describe.skipIf(!haveChromium && !process.env.CI)("HTML report in headless Chromium", () => {
  it("renders the tables and plots without page errors", async () => {
    const run = mkdtempSync(join(tmpdir(), "blvnet-run-"));
    const base = {
      ...provenance({ backend: "analytic" }),
      model: "tsm",
      depth: 50,
      temporal: "tsm",
      size: 224,
      batch: 1,
      dataset: "",
      seed: "",
    };
    writeRows(
      join(run, "results.csv"),
      [8, 16].map((frames) => ({
        ...base,
        kind: "profile",
        key: `profile|tsm|f${frames}`,
        model_id: `tsm-r50-s8-blockres-f${frames}`,
        frames,
        params: 23864558,
        macs: frames * 4.0875e9,
        saved_activation_bytes: frames * 103.4 * 2 ** 20,
      })),
    );
    const out = mkdtempSync(join(tmpdir(), "blvnet-pub-"));
    publish({ runDirs: [run], outDir: out });

    const profileDir = mkdtempSync(join(tmpdir(), "blvnet-chromium-"));
    const browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`file://${join(out, "report.html")}`);
      expect(errors).toEqual([]);
      expect(await page.locator("h1").textContent()).toBe("blvnet results");
      expect(await page.locator("table").count()).toBeGreaterThanOrEqual(3); // profile, memory, published, provenance
      expect(await page.locator("figure svg").count()).toBeGreaterThanOrEqual(2);
      // the official count of tsm-r50-8f (32.7 GMACs) is shown next to ours
      expect(await page.locator("td", { hasText: "32.7" }).count()).toBeGreaterThan(0);
      const box = await page.locator("figure svg").first().boundingBox();
      expect(box!.width).toBeGreaterThan(300);
      await page.screenshot({ path: join(out, "report.png"), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
