// Opens pages in Debian's headless Chromium through playwright-core, waits until they show what the job says,
// takes screenshots and reads text from the DOM (open shadow roots included). Used by tests/test_browser.py
// and docs/screenshots.py through tests/browser_setup.py's run_capture().
//
// Reads one JSON job on stdin, writes one JSON answer on stdout:
//
//   {"chromium": "/usr/bin/chromium", "profile": "/tmp/fresh-dir", "viewport": {"width": 1280, "height": 800},
//    "timeout_ms": 60000,
//    "pages": [{"url": "http://127.0.0.1:PORT/#scalars",
//               "wait_text": ["train/accuracy"],        // every string must appear in the page's text
//               "frame": "projector_binary",            // optional: selectors below act in the frame whose URL
//                                                       // contains this (the projector is in an iframe)
//               "wait_selector": "canvas",              // optional: an element that must be visible
//               "actions": [{"click": "css"}, {"click_text": "t-SNE"}, {"wait_ms": 500},
//                           {"fill": "input", "value": "x"}, {"press": "Enter"}, {"wait_text": "done"}],
//               "settle_ms": 1500,                      // time for charts to draw before the screenshot
//               "screenshot": "/abs/path.png",
//               "collect": {"titles": {"selector": "css"},            // per name: of every visible match,
//                           "lines": {"selector": "css", "attribute": "d"}}}]}   // textContent or an attribute
//
//   -> {"pages": [{"url": ..., "collected": {"titles": [...], "lines": [...]},
//                  "text": "<the page's text, first 20000 characters>"}]}
//
// CSS selectors pierce open shadow roots (Playwright's rule), so TensorBoard's Polymer cards can be reached.
//
// Failures (a timeout, a selector that matches nothing) exit 1 with the reason and the page's text on stderr.

import { chromium } from 'playwright-core';

const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
];

// All text of the document, descending into open shadow roots (innerText stops at them) and same-origin iframes
// (TensorBoard shows some plugins, the projector among them, in iframes). Self-contained:
// Playwright sends its source to the page, where TensorBoard's Content-Security-Policy forbids eval().
function deepText() {
  const parts = [];
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) {
      const text = node.textContent.trim();
      if (text) parts.push(text);
      return;
    }
    if (node.nodeName === 'SCRIPT' || node.nodeName === 'STYLE') return;
    if (node.nodeName === 'IFRAME' && node.contentDocument) walk(node.contentDocument); // same-origin plugins
    if (node.shadowRoot) walk(node.shadowRoot);
    for (const child of node.childNodes) walk(child);
  };
  walk(document);
  return parts.join('\n');
}

// Whether the document's text (shadow roots included) contains text; self-contained like deepText.
function hasText(text) {
  const parts = [];
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) {
      parts.push(node.textContent);
      return;
    }
    if (node.nodeName === 'SCRIPT' || node.nodeName === 'STYLE') return;
    if (node.nodeName === 'IFRAME' && node.contentDocument) walk(node.contentDocument); // same-origin plugins
    if (node.shadowRoot) walk(node.shadowRoot);
    for (const child of node.childNodes) walk(child);
  };
  walk(document);
  return parts.join('\n').includes(text);
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function pageText(page) {
  return page.evaluate(deepText);
}

// The page's frame whose URL contains part, once it exists; the page itself without part.
async function frameOf(page, part, timeout) {
  if (!part) return page.mainFrame();
  const deadline = Date.now() + timeout;
  for (;;) {
    const frame = page.frames().find((f) => f.url().includes(part));
    if (frame) return frame;
    if (Date.now() > deadline) throw new Error(`no frame whose URL contains ${part}`);
    await page.waitForTimeout(250);
  }
}

async function runPage(page, spec, timeout) {
  await page.goto(spec.url, { waitUntil: 'load', timeout });
  for (const wanted of spec.wait_text ?? []) {
    await page.waitForFunction(hasText, wanted, { timeout, polling: 250 });
  }
  const frame = await frameOf(page, spec.frame, timeout);
  if (spec.wait_selector) {
    await frame.locator(spec.wait_selector).first().waitFor({ state: 'visible', timeout });
  }
  for (const action of spec.actions ?? []) {
    if ('click' in action) await frame.locator(action.click).first().click({ timeout });
    else if ('click_text' in action) await frame.getByText(action.click_text).first().click({ timeout });
    else if ('fill' in action) await frame.locator(action.fill).first().fill(action.value, { timeout });
    else if ('press' in action) await page.keyboard.press(action.press);
    else if ('wait_text' in action) {
      await page.waitForFunction(hasText, action.wait_text, { timeout, polling: 250 });
    } else if ('wait_ms' in action) await page.waitForTimeout(action.wait_ms);
    else throw new Error(`unknown action ${JSON.stringify(action)}`);
  }
  await page.waitForTimeout(spec.settle_ms ?? 0);
  if (spec.screenshot) await page.screenshot({ path: spec.screenshot, fullPage: Boolean(spec.full_page) });
  const collected = {};
  for (const [name, { selector, attribute }] of Object.entries(spec.collect ?? {})) {
    collected[name] = await frame.locator(selector).evaluateAll(
      (nodes, attr) =>
        nodes
          .filter((n) => n.getClientRects().length > 0 && n.checkVisibility({ visibilityProperty: true }))
          .map((n) => (attr ? n.getAttribute(attr) ?? '' : n.textContent.trim())),
      attribute ?? null,
    );
  }
  return { url: spec.url, collected, text: (await pageText(page)).slice(0, 20000) };
}

async function main() {
  const job = await readStdin();
  const timeout = job.timeout_ms ?? 60000;
  const browser = await chromium.launchPersistentContext(job.profile, {
    executablePath: job.chromium,
    headless: true,
    args: FLAGS,
    viewport: job.viewport ?? { width: 1280, height: 800 },
    deviceScaleFactor: 1,
  });
  const results = [];
  try {
    for (const spec of job.pages) {
      const page = await browser.newPage();
      try {
        results.push(await runPage(page, spec, timeout));
      } catch (error) {
        const text = await pageText(page).catch(() => '<page text unavailable>');
        const shown = text.length > 1500 ? `${text.slice(0, 1500)}\n[... ${text.length - 1500} more characters]` : text;
        throw new Error(`--- page text ---\n${shown}\n--- ${spec.url}: ${error.message}`);
      } finally {
        await page.close();
      }
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify({ pages: results }));
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
