// A browser session a test drives step by step: one JSON command per line
// on standard input, one JSON answer per line on standard output.
//
//   node session.js PLAYWRIGHT_CORE CHROMIUM
//
// Commands ({"op": …}): open {javascript, width, height}, goto {url},
// count {selector}, wait {selector, state, timeout_ms}, fill {selector,
// value}, click {selector} (it loads a page), toggle {selector} (it does
// not), press {key}, text {}, evaluate {expression},
// screenshot {path}, report {} (since the last goto), close {}. Every answer is {ok: true, …} or
// {ok: false, error}.
const [playwrightCore, executablePath] = process.argv.slice(2);
const { chromium } = require(playwrightCore);
const readline = require('readline');

(async () => {
  const browser = await chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  let context = null;
  let page = null;
  let report = { consoleErrors: [], pageErrors: [], requests: [] };

  const handlers = {
    async open({ javascript = true, width = 1280, height = 900 }) {
      if (context) await context.close();
      context = await browser.newContext({ javaScriptEnabled: javascript, viewport: { width, height } });
      page = await context.newPage();
      report = { consoleErrors: [], pageErrors: [], requests: [] };
      page.on('console', (message) => {
        if (message.type() === 'error') report.consoleErrors.push(message.text());
      });
      page.on('pageerror', (error) => report.pageErrors.push(String(error)));
      page.on('request', (request) => report.requests.push(request.url()));
      return {};
    },
    async goto({ url }) {
      // The report covers what happened since the last goto.
      report = { consoleErrors: [], pageErrors: [], requests: [] };
      const response = await page.goto(url, { waitUntil: 'load' });
      return { status: response ? response.status() : 0, url: page.url() };
    },
    async count({ selector }) {
      return { count: await page.locator(selector).count() };
    },
    async wait({ selector, state = 'attached', timeout_ms = 5000 }) {
      const started = Date.now();
      try {
        await page.locator(selector).first().waitFor({ state, timeout: timeout_ms });
        return { found: true, elapsed_ms: Date.now() - started };
      } catch (error) {
        return { found: false, elapsed_ms: Date.now() - started };
      }
    },
    async fill({ selector, value }) {
      await page.locator(selector).first().fill(value);
      return {};
    },
    // A click that loads a page (a link, a form's button). A live update
    // may replace the element just as it is clicked, so a click that
    // started no navigation is tried again (three times in all).
    async click({ selector }) {
      for (let attempt = 0; attempt < 3; attempt++) {
        const navigated = page.waitForNavigation({ timeout: 5000 }).then(() => true, () => false);
        await page.locator(selector).first().click();
        if (await navigated) break;
      }
      await page.waitForLoadState('load');
      return { url: page.url() };
    },
    // A click that stays on the page (a <details> summary).
    async toggle({ selector }) {
      await page.locator(selector).first().click();
      return {};
    },
    async press({ key }) {
      await page.keyboard.press(key);
      return {};
    },
    async text() {
      return { text: await page.locator('body').innerText() };
    },
    async evaluate({ expression }) {
      return { value: await page.evaluate(expression) };
    },
    async screenshot({ path }) {
      await page.screenshot({ path, fullPage: true });
      return {};
    },
    async report() {
      return { ...report, url: page ? page.url() : null };
    },
  };

  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let command;
    try {
      command = JSON.parse(line);
    } catch (error) {
      process.stdout.write(JSON.stringify({ ok: false, error: `not JSON: ${error}` }) + '\n');
      continue;
    }
    if (command.op === 'close') break;
    const handler = handlers[command.op];
    let answer;
    try {
      if (!handler) throw new Error(`unknown op ${command.op}`);
      answer = { ok: true, ...(await handler(command)) };
    } catch (error) {
      answer = { ok: false, error: String(error && error.stack || error) };
    }
    process.stdout.write(JSON.stringify(answer) + '\n');
  }
  await browser.close();
})().catch((error) => {
  process.stderr.write(String(error && error.stack || error));
  process.exit(1);
});
