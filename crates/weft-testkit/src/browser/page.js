// Opens one page in headless Chromium through playwright-core and reports
// what a test needs, as JSON on standard output: console errors, page
// errors, every request's URL, how many elements each selector matches, the
// page's text, and a screenshot.
//
//   node page.js PLAYWRIGHT_CORE CHROMIUM URL SCREENSHOT SELECTOR...
const [playwrightCore, executablePath, url, screenshot, ...selectors] = process.argv.slice(2);
const { chromium } = require(playwrightCore);

(async () => {
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const consoleErrors = [];
    const pageErrors = [];
    const requests = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(url, { waitUntil: 'load' });
    const counts = {};
    for (const selector of selectors) {
      counts[selector] = await page.locator(selector).count();
    }
    const text = await page.locator('body').innerText();
    await page.screenshot({ path: screenshot, fullPage: true });
    process.stdout.write(JSON.stringify({ consoleErrors, pageErrors, requests, counts, text }));
  } finally {
    await browser.close();
  }
})().catch((error) => {
  process.stderr.write(String(error && error.stack || error));
  process.exit(1);
});
