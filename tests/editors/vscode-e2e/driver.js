// Drives a running code-server (real VS Code 1.100 in Chromium, through playwright-core)
// with the lockls extension installed, and records what it sees as JSON; the assertions
// live in tests/test_editors_vscode_e2e.py. Each step waits for the editor, never sleeps
// blindly, and writes the observations so far, so a failure shows how far it got.
//
// Environment: E2E_URL (workbench URL with ?folder=), E2E_FILE (file name in the folder),
// E2E_OUT (result JSON), E2E_SHOT (screenshot), E2E_HOVER_TEXT (text of a line inside the
// function, to hover), E2E_FIX_TITLE (quick-fix to apply), E2E_CHROMIUM (executable).
'use strict';
const fs = require('fs');
const { chromium } = require('playwright-core');

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const OUT = env('E2E_OUT');
const result = { ok: false, step: 'start', timings: {} };
const t0 = Date.now();
const save = () => fs.writeFileSync(OUT, JSON.stringify(result, null, 2));
const step = (name) => {
  result.timings[result.step] = Date.now() - t0;
  result.step = name;
  save();
};

const EDITOR = '.editor-instance .monaco-editor';
const SQUIGGLES = `${EDITOR} .squiggly-error, ${EDITOR} .squiggly-warning, ${EDITOR} .squiggly-info`;
const HOVER = '.monaco-hover:not(.hidden) .monaco-hover-content';

// 1-based line number shown in the gutter at the height of an element of the editor.
async function lineAt(page, box) {
  const nums = await page.$$eval(`${EDITOR} .margin-view-overlays .line-numbers`, (els) =>
    els.map((e) => {
      const r = e.getBoundingClientRect();
      return { n: Number(e.textContent.trim()), top: r.top, bottom: r.bottom };
    }));
  const y = box.y + box.height / 2;
  const hit = nums.find((l) => l.top <= y && y < l.bottom);
  return hit ? hit.n : null;
}

async function lineBox(page, text) {
  const line = page.locator(`${EDITOR} .view-lines .view-line`).filter({ hasText: text }).first();
  await line.waitFor({ timeout: 10000 });
  // The text itself (the span after the indentation), not the whole row.
  return line.locator('span > span').filter({ hasText: /\S/ }).first().boundingBox();
}

async function hoverAt(page, box) {
  // Away first, so that a hover still shown elsewhere goes, then onto the element
  // (Playwright's hover() never settles on a squiggle: the decoration re-renders).
  await page.keyboard.press('Escape');
  await page.mouse.move(5, 5);
  await page.locator(HOVER).waitFor({ state: 'detached', timeout: 5000 }).catch(() => {});
  await page.mouse.move(box.x + Math.min(box.width / 2, 20), box.y + box.height / 2, { steps: 3 });
  const hover = page.locator(HOVER).filter({ hasText: 'Locks held here' });
  await hover.first().waitFor({ timeout: 10000 });
  return (await page.locator(HOVER).allInnerTexts()).join('\n');
}

async function problems(page) {
  return page.$$eval('.markers-panel .monaco-list-row', (els) =>
    els.map((e) => ({ label: e.getAttribute('aria-label') || '', text: e.innerText })));
}

(async () => {
  save();
  const browser = await chromium.launch({
    executablePath: env('E2E_CHROMIUM'),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(15000);
    const consoleErrors = [];
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    result.consoleErrors = consoleErrors;

    step('workbench');
    await page.goto(env('E2E_URL'));
    await page.waitForSelector('.monaco-workbench', { timeout: 30000 });

    step('open-file');
    const file = env('E2E_FILE');
    await page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${file}"]`).dblclick();
    await page.waitForSelector(`${EDITOR} .view-lines .view-line`);
    result.languageStatus = await page.locator('.statusbar').innerText().catch(() => '');

    step('squiggle');
    const squiggle = page.locator(SQUIGGLES);
    await squiggle.first().waitFor({ timeout: 20000 });
    const sqBox = await squiggle.first().boundingBox();
    result.squiggles = await squiggle.evaluateAll((els) => els.map((e) => e.className));
    result.squiggleLine = await lineAt(page, sqBox);
    result.statusbar = await page.locator('.statusbar').innerText();

    step('problems');
    await page.keyboard.press('Control+Shift+M');
    await page.locator('.markers-panel .monaco-list-row').filter({ hasText: 'lock-leak' }).first().waitFor();
    result.problems = await problems(page);

    step('hover-squiggle');
    result.hoverSquiggle = await hoverAt(page, sqBox);
    await page.screenshot({ path: env('E2E_SHOT') });

    step('hover-line');
    result.hoverLine = await hoverAt(page, await lineBox(page, env('E2E_HOVER_TEXT')));

    step('quick-fix');
    await page.keyboard.press('Escape');
    await page.mouse.click(sqBox.x + 2, sqBox.y + sqBox.height / 2);
    await page.keyboard.press('Control+.');
    const items = page.locator('.action-widget .monaco-list-row');
    await items.first().waitFor();
    result.codeActions = await items.evaluateAll((els) =>
      els.map((e) => (e.getAttribute('aria-label') || e.innerText).trim()));
    const title = env('E2E_FIX_TITLE');
    // Keyboard, as a user would: the widget blocks the pointer while it opens.
    const focused = page.locator('.action-widget .monaco-list-row.focused');
    for (let i = 0; i <= result.codeActions.length; i++) {
      if ((await focused.getAttribute('aria-label').catch(() => '')) === title) break;
      await page.keyboard.press('ArrowDown');
    }
    result.appliedAction = await focused.getAttribute('aria-label');
    await page.keyboard.press('Enter');

    step('fixed');
    await page.locator(SQUIGGLES).first().waitFor({ state: 'detached', timeout: 20000 });
    await page.locator('.markers-panel .monaco-list-row').filter({ hasText: 'lock-leak' })
      .first().waitFor({ state: 'detached' });
    result.problemsAfterFix = await problems(page);
    // The rendered lines, in the order of their position (the DOM order is not the
    // line order once the editor has recycled its line elements).
    result.textAfterFix = await page.$$eval(`${EDITOR} .view-lines .view-line`, (els) => els
      .map((e) => ({ top: e.getBoundingClientRect().top, text: e.textContent }))
      .sort((a, b) => a.top - b.top).map((l) => l.text).join('\n'));
    result.ok = true;
    step('done');
  } catch (e) {
    result.error = String(e && e.stack || e);
    save();
    process.exitCode = 1;
  } finally {
    await browser.close().catch(() => {});
  }
})();
