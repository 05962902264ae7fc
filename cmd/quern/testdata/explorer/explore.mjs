// Loads a quern node's explorer page in headless Chromium (playwright-core,
// the system's /usr/bin/chromium) and reports what it shows as one JSON
// line. Run by cmd/quern/explorer_test.go with QUERN_URL (the node's RPC
// URL), QUERN_JOB (a finished job's id), QUERN_BLOCK (the block it was done
// in) and QUERN_SHOT (where to save a screenshot of the overview).
import { chromium } from "playwright-core";

const url = process.env.QUERN_URL, job = process.env.QUERN_JOB.toLowerCase(), block = process.env.QUERN_BLOCK;
const shot = process.env.QUERN_SHOT;
const browser = await chromium.launch({
  executablePath: process.env.QUERN_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const out = { errors: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  page.on("pageerror", (e) => out.errors.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") out.errors.push(`console: ${m.text()}`); });
  page.setDefaultTimeout(60000);

  // "/" sends a browser to the explorer.
  await page.goto(url + "/");
  out.landed = new URL(page.url()).pathname;

  // The overview: the head, recent blocks, the finished job.
  const jobRow = page.locator(`#jobs tr[data-job="${job}"]`);
  await jobRow.filter({ hasText: "done" }).waitFor();
  await page.locator("#blocks tr[data-block]").first().waitFor();
  await page.locator("#chart-rate svg polyline").waitFor();
  out.head = (await page.locator("#head").innerText()).trim();
  out.jobRow = (await jobRow.innerText()).trim();
  out.blockRows = await page.locator("#blocks tr[data-block]").evaluateAll((rows) => rows.map((r) => r.innerText.trim()));
  out.stats = (await page.locator("#stats").innerText()).trim();
  out.miners = (await page.locator("#miners").innerText()).trim();
  out.bars = await page.locator("#chart-time svg rect.bar").count();
  await page.screenshot({ path: shot, fullPage: true });

  // The block the job was done in: its result is listed.
  await page.goto(`${url}/explorer/#/block/${block}`);
  await page.locator(`#block-results tr[data-job="${job}"]`).waitFor();
  out.blockPage = (await page.locator("main").innerText()).trim();

  // The job's transaction, and the job's own page.
  await page.goto(`${url}/explorer/#/tx/${job}`);
  await page.locator("#tx").filter({ hasText: "mined" }).waitFor();
  out.txPage = (await page.locator("#tx").innerText()).trim();
  await page.goto(`${url}/explorer/#/job/${job}`);
  await page.locator("#job").filter({ hasText: "done" }).waitFor();
  out.jobPage = (await page.locator("#job").innerText()).trim();
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
