// Browser tests of the payment page (static/), run against real servers:
//
//   BASE_URL=http://127.0.0.1:8080/shop BOT_TOKEN=123:abc \
//   [DEV_BASE_URL=…] [STARS_BASE_URL=… STARS_SECRET=…] [SLOW_BASE_URL=…] \
//   [SCREENSHOT_DIR=target/browser-screenshots] node --test tests/browser/*.test.mjs
//
// BASE_URL: a server with a bot token and the sandbox provider, mounted under a prefix. BOT_TOKEN:
// its token, used here to sign init data exactly as Telegram does. DEV_BASE_URL: a server without
// a bot token (dev-login on). Telegram is a stub injected before the page loads (harness.mjs); the
// system Chromium runs headless; nothing is fetched from the network.
//
// This file: buying, paying and what the page says about it. telegram.test.mjs: Telegram's
// controls and the bridge. look.test.mjs: themes, contrast, languages, layout and screenshots.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE_URL, DEV_BASE_URL, STARS_BASE_URL, STARS_SECRET, TEST_TIMEOUT, TIMEOUT,
  clickMainButton, close, followHandoff, getCatalog, installTelegramStub, isCreatePayment, launch, mainButton,
  newContext, routeCatalog, selectPackage, shot, submitSandboxCard, submitSandboxCardOn, futureExpiry, waitForBalance,
  waitForCall, waitForMainButton, waitForView, withStars, withTelegramPage, inViewport, text, askNow,
} from './harness.mjs';

before(launch);
after(close);

test('the four packages render with their prices and per-token cost, dark by default', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({}, async ({ page }) => {
    await waitForView(page, 'main');
    const expected = { 100: '$5.00', 200: '$10.00', 500: '$25.00', 1000: '$50.00' };
    const values = await page.locator('input[name="package"]').evaluateAll((inputs) => inputs.map((i) => i.value));
    assert.deepEqual(values, ['100', '200', '500', '1000']);
    for (const [credits, price] of Object.entries(expected)) {
      assert.equal(await page.getByTestId(`price-${credits}`).innerText(), price);
      assert.equal(await page.getByTestId(`per-token-${credits}`).innerText(), '$0.05 per token');
      assert.match(await page.getByTestId(`package-${credits}`).innerText(), /tokens/);
    }
    await waitForBalance(page, '0'); // a fresh user
    const calls = await page.evaluate(() => window.__calls);
    assert.equal(calls.ready, 1, 'Telegram.WebApp.ready() called');
    assert.equal(calls.expand, 1, 'Telegram.WebApp.expand() called');
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = bg.match(/\d+/g).map(Number);
    assert.ok(r + g + b < 200, `dark background by default, got ${bg}`);
    assert.equal(await page.getByTestId('pay-button').isVisible(), false, 'Telegram MainButton pays, not an in-page button');
  });
});

test('mounted under a prefix, the page and its modules call the API under that prefix', { timeout: TEST_TIMEOUT }, async () => {
  assert.match(BASE_URL, /\/shop$/, 'BASE_URL is the payments router nested under /shop of a host app');
  await withTelegramPage({
    beforeLoad: (page) => {
      page.requests = [];
      page.on('request', (r) => page.requests.push(r.url()));
    },
  }, async ({ page }) => {
    await waitForView(page, 'main');
    const api = page.requests.filter((u) => u.includes('/api/'));
    assert.ok(api.length > 0);
    for (const url of api) assert.ok(url.startsWith(`${BASE_URL}/api/miniapp/`), url);
    const modules = page.requests.filter((u) => u.endsWith('.js'));
    assert.ok(modules.includes(`${BASE_URL}/miniapp/js/main.js`), modules.join(', '));
    assert.ok(modules.length >= 5, `the page is split into ES modules: ${modules.join(', ')}`);
    const host = await fetch(BASE_URL.replace(/\/shop$/, '/nope'));
    assert.equal(await host.text(), "the host's own 404");
  });
});

test('paying opens our handoff page inside the tap, then posts create-payment with the order and an idempotency key', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({}, async ({ page, user, initData, context }) => {
    await waitForView(page, 'main');
    const creates = [];
    page.on('request', (r) => { if (isCreatePayment(r)) creates.push(r); });
    await selectPackage(page, 500);
    await page.getByTestId('email').fill('buyer@example.com');
    await waitForMainButton(page, 'Pay $25.00');
    await shot(page, 'main.png');
    const [request, response, linksInTap] = await Promise.all([
      page.waitForRequest(isCreatePayment),
      page.waitForResponse((r) => isCreatePayment(r.request())),
      // A double tap: the second tap must not create a second checkout. openLink must already
      // have been called when the tap's handler returns.
      page.evaluate(() => { window.__tg.clickMainButton(); window.__tg.clickMainButton(); return window.__calls.openLink.slice(); }),
    ]);
    assert.equal(linksInTap.length, 1, 'openLink called inside the tap, once');
    const body = request.postDataJSON();
    assert.equal(body.credits, 500);
    assert.equal(body.amount, '25.00');
    assert.equal(body.currency, 'USD');
    assert.equal(body.payment_method, 'card');
    assert.equal(body.user_id, user.id);
    assert.equal(body.init_data, initData);
    assert.equal(body.email, 'buyer@example.com');
    const headers = request.headers();
    assert.equal(headers.authorization, `tma ${initData}`);
    assert.match(headers['content-type'], /^application\/json/);
    const key = headers['idempotency-key'] || '';
    assert.match(key, /^[A-Za-z0-9_-]{32,128}$/);
    assert.ok(linksInTap[0].endsWith(`#u=${user.id}&k=${key}&l=en`), linksInTap[0]);
    assert.equal(response.status(), 200);
    const reply = await response.json();

    await waitForView(page, 'waiting');
    assert.notEqual((await page.getByTestId('status').innerText()).trim(), '', 'a visible progress text');
    await waitForMainButton(page, 'Open the payment page again');
    assert.equal(creates.length, 1, 'one checkout for a double tap');
    await shot(page, 'waiting.png');

    // The handoff page goes to the checkout create-payment opened, in the buyer's language.
    const checkout = await followHandoff(context, linksInTap[0]);
    assert.equal(new URL(checkout.url()).pathname, new URL(reply.payment_url, `${BASE_URL}/miniapp/`).pathname);
    assert.equal(new URL(checkout.url()).searchParams.get('lang'), 'en');
  });
});

test('sandbox end to end: a good card pays, the page shows the new balance, vibrates, and Done closes the app', { timeout: TEST_TIMEOUT }, async () => {
  const beforeLoad = (page) => {
    page.statusRequests = [];
    page.on('request', (r) => { if (r.url().includes('/payment-status/')) page.statusRequests.push(r); });
  };
  await withTelegramPage({ beforeLoad }, async ({ page, context, user, initData }) => {
    await waitForView(page, 'main');
    await selectPackage(page, 500);
    await waitForMainButton(page, 'Pay $25.00');
    const [response] = await Promise.all([page.waitForResponse((r) => isCreatePayment(r.request())), clickMainButton(page)]);
    const reply = await response.json();
    const [link] = await waitForCall(page, 'openLink');
    await waitForView(page, 'waiting');

    // The page waits with long polls the server holds until the status changes (the wake
    // itself is tested in tests/api.rs and, across instances, tests/status_push.rs).
    const isLongPoll = (r) => /\/payment-status\/[^?]+\?wait=25&status=pending$/.test(r.url());
    if (!page.statusRequests.some(isLongPoll)) await page.waitForRequest(isLongPoll);
    const checkout = await submitSandboxCard(context, link, '4242 4242 4242 4242', { screenshot: 'sandbox.png' });
    await shot(checkout, 'sandbox-result.png');
    await checkout.close();

    await waitForView(page, 'success');
    assert.equal(await page.getByTestId('success-balance').innerText(), '500');
    assert.match(await page.getByTestId('success-credits').innerText(), /\+500 tokens/);
    assert.equal(await page.getByTestId('balance').innerText(), '500', 'the header balance is updated');
    const haptics = await waitForCall(page, 'haptic');
    assert.ok(haptics.includes('success'), `haptic success recorded: ${haptics}`);
    await shot(page, 'success.png');
    await waitForMainButton(page, 'Done');
    await clickMainButton(page);
    assert.equal(await page.evaluate(() => window.__calls.close), 1, 'Done closes the Mini App');

    // The purchase is in the buyer's history.
    await page.getByTestId('buy-more-button').click();
    await waitForView(page, 'main');
    await page.getByTestId('history-button').click();
    await waitForView(page, 'history');
    await page.getByTestId('history-item').first().waitFor();
    assert.match(await page.getByTestId('history-item').first().innerText(), /Purchase[\s\S]*\+500\s+tokens[\s\S]*Balance 500/);

    // Coming back from the checkout with ?payment_id=… goes straight to the status.
    const back = await context.newPage();
    back.setDefaultTimeout(TIMEOUT);
    await back.addInitScript(installTelegramStub, { initData, initDataUnsafe: { user }, themeParams: {}, colorScheme: 'dark' });
    await back.goto(`${BASE_URL}/miniapp/?payment_id=${encodeURIComponent(reply.payment_id)}`);
    await waitForView(back, 'success');
    assert.equal(await back.getByTestId('success-balance').innerText(), '500');
  });
});

test('a declined card and insufficient funds say why, with the order, and Try again starts a new attempt', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({}, async ({ page, context }) => {
    await waitForView(page, 'main');
    await selectPackage(page, 200);
    await waitForMainButton(page, 'Pay $10.00');
    const [first] = await Promise.all([page.waitForRequest(isCreatePayment), clickMainButton(page)]);
    const [link] = await waitForCall(page, 'openLink');
    const checkout = await submitSandboxCard(context, link, '4000 0000 0000 0002');
    await checkout.close();

    await waitForView(page, 'result');
    assert.equal(await page.getByTestId('result-title').innerText(), 'Payment failed');
    assert.match(await page.getByTestId('result-message').innerText(), /did not go through.*no money was taken/i);
    assert.equal(await text(page.getByTestId('result-summary')), '200 tokens · $10.00');
    const declined = await page.getByTestId('result-reason').innerText();
    assert.match(declined, /bank declined the card/i);
    await waitForBalance(page, '0');
    const haptics = await page.evaluate(() => window.__calls.haptic);
    assert.ok(haptics.includes('error') && !haptics.includes('success'), haptics.join(','));
    await shot(page, 'failed.png');

    // Try again: a new attempt (new idempotency key), a new checkout for the same package, opened
    // inside the tap on the MainButton.
    await waitForMainButton(page, 'Try again');
    const [second] = await Promise.all([page.waitForRequest(isCreatePayment), clickMainButton(page)]);
    assert.equal(second.postDataJSON().credits, 200);
    assert.notEqual(second.headers()['idempotency-key'], first.headers()['idempotency-key']);
    const links = await waitForCall(page, 'openLink', 2);
    assert.notEqual(links[1], links[0], 'a new checkout');
    await waitForView(page, 'waiting');
    const poor = await submitSandboxCard(context, links[1], '4000 0000 0000 9995');
    await poor.close();
    await waitForView(page, 'result');
    const insufficient = await page.getByTestId('result-reason').innerText();
    assert.match(insufficient, /insufficient funds/i);
    assert.notEqual(insufficient, declined, 'the two declines read differently');
  });
});

test('a retried attempt reuses its idempotency key; a different order gets a new one', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({}, async ({ page }) => {
    await waitForView(page, 'main');
    let abortNext = true;
    await page.route('**/api/miniapp/create-payment', async (route) => {
      if (abortNext) { abortNext = false; await route.abort('connectionreset'); } else await route.continue();
    });
    await selectPackage(page, 500);
    await waitForMainButton(page, 'Pay $25.00');
    const [first] = await Promise.all([page.waitForRequest(isCreatePayment), clickMainButton(page)]);
    await page.getByTestId('error').waitFor();
    assert.match(await page.getByTestId('error').innerText(), /no connection to the server/i);
    await waitForMainButton(page, 'Pay $25.00');

    const [second] = await Promise.all([page.waitForRequest(isCreatePayment), clickMainButton(page)]);
    assert.equal(second.headers()['idempotency-key'], first.headers()['idempotency-key'], 'same attempt, same key');
    await waitForView(page, 'waiting');

    assert.equal(await page.evaluate(() => window.__tg.clickBackButton()), true, 'the BackButton leaves the waiting view');
    await waitForView(page, 'main');
    await selectPackage(page, 100);
    await waitForMainButton(page, 'Pay $5.00');
    const [third] = await Promise.all([page.waitForRequest(isCreatePayment), clickMainButton(page)]);
    assert.notEqual(third.headers()['idempotency-key'], first.headers()['idempotency-key'], 'another order, another key');
  });
});

for (const viewport of [{ width: 320, height: 496 }, { width: 390, height: 772 }]) {
  test(`after Pay, an error is visible in a ${viewport.width}×${viewport.height} webview, in a Telegram popup, with an error haptic`, { timeout: TEST_TIMEOUT }, async () => {
    await withTelegramPage({ viewport }, async ({ page }) => {
      await page.route('**/api/miniapp/create-payment', (route) => route.fulfill({
        status: 503, contentType: 'application/json',
        body: JSON.stringify({ success: false, error: { code: 'provider_unavailable', message: 'the provider did not answer' } }),
      }));
      await waitForView(page, 'main');
      await selectPackage(page, 1000);
      await page.getByTestId('email').fill('buyer@example.com');
      await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
      await waitForMainButton(page, 'Pay $50.00');
      await clickMainButton(page);
      const banner = page.getByTestId('error');
      await banner.waitFor();
      assert.match(await banner.innerText(), /cannot be reached/);
      await page.waitForFunction(() => {
        const r = document.querySelector('[data-testid="error"]').getBoundingClientRect();
        return r.top >= 0 && r.bottom <= window.innerHeight;
      });
      assert.equal(await inViewport(banner), true, 'the error is inside the viewport');
      const calls = await page.evaluate(() => window.__calls);
      assert.ok(calls.haptic.includes('error'), `error haptic: ${calls.haptic}`);
      assert.equal(calls.popups.length, 1, 'one Telegram popup');
      assert.match(calls.popups[0].message, /cannot be reached/);
      if (viewport.width === 320) await shot(page, 'error-320.png', false);
    });
  });
}

test('a session that has expired (init data signed 3 days ago) is a blocked screen with the way back, not a form', { timeout: TEST_TIMEOUT }, async () => {
  const threeDaysAgo = Math.floor(Date.now() / 1000) - 3 * 24 * 3600;
  await withTelegramPage({ authDate: threeDaysAgo }, async ({ page }) => {
    await waitForView(page, 'blocked');
    assert.equal(await page.getByTestId('blocked-title').innerText(), 'This session has expired');
    assert.match(await page.getByTestId('blocked-text').innerText(), /open it again from the bot/i);
    assert.equal(await page.getByTestId('view-main').isVisible(), false, 'no purchase form');
    assert.equal(await page.getByTestId('balance-card').isVisible(), false, 'no "—" balance');
    await waitForMainButton(page, 'Close and reopen from the bot');
    await shot(page, 'session-expired.png');
    await clickMainButton(page);
    assert.equal(await page.evaluate(() => window.__calls.close), 1, 'the MainButton closes the Mini App');
    assert.deepEqual(await page.evaluate(() => window.__calls.openLink), [], 'no checkout opened');
  });
});

test('a session that expires while the page is open ends on the blocked screen at the next request', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({}, async ({ page }) => {
    await waitForView(page, 'main');
    await page.route('**/api/miniapp/create-payment', (route) => route.fulfill({
      status: 401, contentType: 'application/json',
      body: JSON.stringify({ success: false, error: { code: 'expired_init_data', message: 'init data is too old' } }),
    }));
    await selectPackage(page, 500);
    await waitForMainButton(page, 'Pay $25.00');
    await clickMainButton(page);
    await waitForView(page, 'blocked');
    assert.equal(await page.getByTestId('blocked-title').innerText(), 'This session has expired');
  });
});

test('create-payment error codes read as sentences, not codes', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({}, async ({ page }) => {
    const replies = [
      [400, 'price_mismatch', /price has changed/],
      [429, 'rate_limited', /Too many attempts/],
      [429, 'too_many_open_payments', /several unfinished payments/],
      [409, 'payment_in_progress', /being prepared/],
      [408, 'request_timeout', /took too long/],
    ];
    let next = 0;
    await page.route('**/api/miniapp/create-payment', (route) => {
      const [status, code] = replies[next];
      return route.fulfill({ status, contentType: 'application/json', body: JSON.stringify({ success: false, error: { code, message: code } }) });
    });
    await waitForView(page, 'main');
    await selectPackage(page, 500);
    for (const [, code, sentence] of replies) {
      await waitForMainButton(page, 'Pay $25.00');
      await clickMainButton(page);
      await page.waitForFunction((source) => {
        const box = document.querySelector('[data-testid="error"]');
        return box && !box.hidden && new RegExp(source).test(box.textContent);
      }, sentence.source);
      assert.doesNotMatch(await page.getByTestId('error').innerText(), new RegExp(code), 'no raw code');
      next += 1;
    }
  });
});

test('the waiting view is never a dead end: the MainButton reopens the checkout, also on a page that came back with only the payment id', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({}, async ({ page, context, user, initData }) => {
    await waitForView(page, 'main');
    await selectPackage(page, 100);
    await waitForMainButton(page, 'Pay $5.00');
    const [response] = await Promise.all([page.waitForResponse((r) => isCreatePayment(r.request())), clickMainButton(page)]);
    const reply = await response.json();
    await waitForView(page, 'waiting');
    await waitForMainButton(page, 'Open the payment page again');
    assert.equal(await page.getByTestId('waiting-hint').isVisible(), true, 'says what to do if no window opened');
    await clickMainButton(page);
    const links = await waitForCall(page, 'openLink', 2);
    assert.equal(new URL(links[1]).pathname, new URL(reply.payment_url, `${BASE_URL}/miniapp/`).pathname, 'reopens the checkout itself');

    // A page that comes back knowing only the payment id learns the checkout from the status.
    const back = await context.newPage();
    back.setDefaultTimeout(TIMEOUT);
    await back.addInitScript(installTelegramStub, { initData, initDataUnsafe: { user }, themeParams: {}, colorScheme: 'dark' });
    await back.goto(`${BASE_URL}/miniapp/?payment_id=${encodeURIComponent(reply.payment_id)}`);
    await waitForView(back, 'waiting');
    await waitForMainButton(back, 'Open the payment page again');
  });
});

test('a status reply that cannot be read keeps the page waiting on the same payment, never offering a new one', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({}, async ({ page }) => {
    await waitForView(page, 'main');
    await selectPackage(page, 100);
    await waitForMainButton(page, 'Pay $5.00');
    const creates = [];
    page.on('request', (r) => { if (isCreatePayment(r)) creates.push(r); });
    await clickMainButton(page);
    await waitForView(page, 'waiting');
    // A captive portal or a proxy's HTML page instead of our JSON: the outcome is unknown.
    let broken = 0;
    await page.route('**/api/miniapp/payment-status/**', (route) => {
      broken += 1;
      return route.fulfill({ status: 200, contentType: 'text/html', body: '<html>Sign in to the Wi-Fi</html>' });
    });
    await askNow(page);
    await page.waitForFunction(() => /Still waiting/.test(document.querySelector('[data-testid="status"]').textContent));
    assert.ok(broken >= 1);
    await waitForView(page, 'waiting');
    await waitForMainButton(page, 'Open the payment page again');
    await page.unroute('**/api/miniapp/payment-status/**');
    assert.equal(creates.length, 1, 'no second payment');
  });
});

test('when long polls fail the page falls back to plain polling and still sees the payment through', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({}, async ({ page, context }) => {
    const asked = [];
    await page.route('**/api/miniapp/payment-status/**', (route) => {
      const url = route.request().url();
      asked.push(url);
      // A proxy that cuts held requests.
      return url.includes('wait=') ? route.abort('connectionreset') : route.continue();
    });
    await waitForView(page, 'main');
    await selectPackage(page, 100);
    await waitForMainButton(page, 'Pay $5.00');
    await clickMainButton(page);
    const [link] = await waitForCall(page, 'openLink');
    await waitForView(page, 'waiting');
    const checkout = await submitSandboxCard(context, link, '4242 4242 4242 4242');
    await checkout.close();
    await waitForView(page, 'success');
    const firstLong = asked.findIndex((u) => u.includes('wait='));
    assert.ok(firstLong >= 0, `a long poll was tried: ${asked.join(' ')}`);
    assert.ok(asked.slice(firstLong + 1).every((u) => !u.includes('wait=')), `plain polls after it failed: ${asked.join(' ')}`);
    assert.ok(asked.length - firstLong >= 2, 'and plain polling went on');
  });
});

// Routes the page's status reads through the real server. A read that arrives once `declined()`
// is true comes back as Stripe reports a declined attempt on a checkout it keeps open: still
// pending, with the attempt's reason. `arrived(url)` is told of each read as it reaches the route
// and may hold it there by returning a promise.
async function routeDeclinedAttempt(page, declined, arrived) {
  await page.route('**/api/miniapp/payment-status/**', async (route) => {
    const decline = declined();
    await arrived(route.request().url());
    try {
      const real = await (await route.fetch()).json();
      await route.fulfill({ json: decline ? { ...real, status: 'pending', failure_code: 'insufficient_funds' } : real });
    } catch {
      // The page aborted this read (it was a long poll cut short), or the test is over.
    }
  });
}

async function payAndWait(page) {
  await waitForView(page, 'main');
  await selectPackage(page, 100);
  await waitForMainButton(page, 'Pay $5.00');
  await clickMainButton(page);
  await waitForView(page, 'waiting');
}

async function seesTheReason(page) {
  await page.getByTestId('waiting-reason').waitFor({ state: 'visible' });
  assert.match(await page.getByTestId('waiting-reason').innerText(), /insufficient funds/i);
  await waitForView(page, 'waiting');
}

test('a declined attempt on a checkout that stays open is told while waiting, cutting short the long poll held', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({}, async ({ page }) => {
    let declined = false;
    let longPollHeld;
    const held = new Promise((resolve) => { longPollHeld = resolve; });
    await routeDeclinedAttempt(page, () => declined, async (url) => {
      if (url.includes('wait=')) longPollHeld();
    });
    await payAndWait(page);
    await held;
    assert.equal(await page.getByTestId('waiting-reason').isVisible(), false);
    declined = true;
    await askNow(page);
    await seesTheReason(page);
  });
});

test('a declined attempt is told at once when the buyer comes back while a plain read is under way', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({}, async ({ page }) => {
    let declined = false;
    let firstReadArrived;
    let releaseFirstRead;
    const arrived = new Promise((resolve) => { firstReadArrived = resolve; });
    const release = new Promise((resolve) => { releaseFirstRead = resolve; });
    let reads = 0;
    await routeDeclinedAttempt(page, () => declined, async () => {
      reads += 1;
      if (reads === 1) {
        firstReadArrived();
        await release;
      }
    });
    await payAndWait(page);
    await arrived;
    // Back from the checkout while the page's first read is still out: the read after it must be
    // answered now, not held as a long poll would be (it compares only the status, which a
    // declined attempt leaves pending).
    declined = true;
    await askNow(page);
    releaseFirstRead();
    await seesTheReason(page);
  });
});

test('Stars: the default when offered, XTR prices, no e-mail or card fine print, pays through openInvoice', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({ beforeLoad: (page) => routeCatalog(page, withStars) }, async ({ page }) => {
    let status = 'pending';
    await page.route('**/api/miniapp/create-payment', async (route) => {
      const body = route.request().postDataJSON();
      if (body.payment_method !== 'stars') return route.continue();
      await route.fulfill({ json: { success: true, payment_id: 'pay_stars_test', payment_url: 'https://t.me/$starsinvoice', status: 'pending', credits: body.credits, amount: body.amount, amount_minor: Number(body.amount), currency: 'XTR', opens: 'invoice' } });
    });
    await page.route('**/api/miniapp/payment-status/pay_stars_test**', (route) => route.fulfill({
      json: { success: true, payment_id: 'pay_stars_test', status, amount: '250', amount_minor: 250, currency: 'XTR', credits: 500, created_at: new Date().toISOString(), balance: 500 },
    }));
    await waitForView(page, 'main');
    assert.equal(await page.locator('input[name="method"]').count(), 2, 'card and Stars');
    assert.equal(await page.locator('input[name="method"][value="stars"]').isChecked(), true, 'Stars chosen by default');
    assert.equal(await page.getByTestId('email-group').isVisible(), false, 'no receipt e-mail for Stars');
    assert.equal(await page.getByTestId('card-fineprint').isVisible(), false, 'no card fine print for Stars');
    assert.equal(await page.getByTestId('sandbox-note').isVisible(), false, 'Stars are real money');
    await selectPackage(page, 500);
    assert.equal(await text(page.getByTestId('price-500')), '⭐ 250');
    await waitForMainButton(page, 'Pay ⭐ 250');
    await page.getByTestId('method-card').click();
    await waitForMainButton(page, 'Pay $25.00');
    assert.equal(await page.getByTestId('email-group').isVisible(), true);
    assert.equal(await page.getByTestId('sandbox-note').isVisible(), true, 'the sandbox card says it is a test');
    await page.getByTestId('method-stars').click();
    await waitForMainButton(page, 'Pay ⭐ 250');

    const [request] = await Promise.all([page.waitForRequest(isCreatePayment), clickMainButton(page)]);
    const body = request.postDataJSON();
    assert.deepEqual([body.payment_method, body.currency, body.amount, body.credits], ['stars', 'XTR', '250', 500]);
    assert.equal(body.email, undefined);
    assert.deepEqual(await waitForCall(page, 'openInvoice'), ['https://t.me/$starsinvoice']);
    assert.deepEqual(await page.evaluate(() => window.__calls.openLink), []);
    await waitForView(page, 'waiting');

    // Closing the invoice unpaid goes back; paying again reuses the same attempt.
    await page.evaluate(() => window.__tg.closeInvoice('cancelled'));
    await waitForView(page, 'main');
    assert.match(await page.getByTestId('error').innerText(), /payment window was closed/i);
    const [again] = await Promise.all([page.waitForRequest(isCreatePayment), clickMainButton(page)]);
    assert.equal(again.headers()['idempotency-key'], request.headers()['idempotency-key']);
    await waitForCall(page, 'openInvoice', 2);

    status = 'succeeded';
    await page.evaluate(() => window.__tg.closeInvoice('paid'));
    await waitForView(page, 'success');
    assert.equal(await page.getByTestId('success-balance').innerText(), '500');
  });
});

test('next to real Stars the test notice belongs to the sandbox card only', { timeout: TEST_TIMEOUT }, async (t) => {
  if (!STARS_BASE_URL) {
    t.skip('STARS_BASE_URL not set');
    return;
  }
  await withTelegramPage({ baseUrl: STARS_BASE_URL }, async ({ page }) => {
    await waitForView(page, 'main');
    const catalog = await (await fetch(`${STARS_BASE_URL}/api/miniapp/packages`)).json();
    assert.deepEqual(catalog.methods.map((m) => [m.id, m.test]), [['card', true], ['stars', false]]);
    assert.match(await page.getByTestId('method-test-card').innerText(), /test mode/i);
    assert.equal(await page.getByTestId('method-test-stars').count(), 0, 'Stars are not marked as a test');
    assert.equal(await page.getByTestId('sandbox-note').isVisible(), false, 'Stars first, and no "no real money"');
    await page.getByTestId('method-card').click();
    await page.getByTestId('sandbox-note').waitFor({ state: 'visible' });
    await page.getByTestId('method-stars').click();
    await page.getByTestId('sandbox-note').waitFor({ state: 'hidden' });
  });
});

test('without stars in methods, the card is the only method and no switch is shown', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({
    beforeLoad: (page) => routeCatalog(page, (json) => ({ ...json, methods: json.methods.filter((m) => m.id !== 'stars') })),
  }, async ({ page }) => {
    await waitForView(page, 'main');
    assert.equal(await page.locator('input[name="method"]').count(), 0);
    const card = page.getByTestId('method-card');
    assert.match(await card.innerText(), /Bank card/);
    assert.match(await card.innerText(), /Visa · MasterCard|VISA/);
  });
});

test('PayPal is a method of its own: its name, no receipt e-mail or card wording, and a waiting text that names PayPal', { timeout: TEST_TIMEOUT }, async () => {
  const withPayPal = (json) => ({ ...json, methods: json.methods.concat([{ id: 'paypal', currency: 'USD', opens: 'link', test: false }]) });
  await withTelegramPage({ beforeLoad: (page) => routeCatalog(page, withPayPal) }, async ({ page }) => {
    await page.route('**/api/miniapp/create-payment', (route) => route.fulfill({
      json: {
        success: true, payment_id: 'pay_paypal_test', payment_url: 'https://www.sandbox.paypal.com/checkoutnow?token=5O190127TN364715T',
        opens: 'link', amount: '25.00', amount_minor: 2500, currency: 'USD', credits: 500,
      },
    }));
    await page.route('**/api/miniapp/payment-status/pay_paypal_test**', (route) => route.fulfill({
      json: { success: true, payment_id: 'pay_paypal_test', status: 'pending', amount: '25.00', amount_minor: 2500, currency: 'USD', credits: 500, created_at: new Date().toISOString(), balance: 0 },
    }));
    await waitForView(page, 'main');
    const paypal = page.getByTestId('method-paypal');
    assert.match(await paypal.innerText(), /PayPal/);
    assert.match(await paypal.innerText(), /Confirm in PayPal, then come back here/);
    await selectPackage(page, 500);
    await paypal.click();
    await waitForMainButton(page, 'Pay $25.00');
    assert.equal(await page.getByTestId('email-group').isVisible(), false, 'PayPal sends its own receipt');
    assert.equal(await page.getByTestId('card-fineprint').isVisible(), false, 'no card wording for PayPal');
    await page.getByTestId('method-card').click();
    assert.equal(await page.getByTestId('email-group').isVisible(), true, 'the card still asks');
    await paypal.click();

    const [request] = await Promise.all([page.waitForRequest(isCreatePayment), clickMainButton(page)]);
    const body = request.postDataJSON();
    assert.deepEqual([body.payment_method, body.currency, body.amount, body.credits, body.email], ['paypal', 'USD', '25.00', 500, undefined]);
    // Opened like the card: Telegram's openLink inside the tap, to the handoff page.
    const [link] = await waitForCall(page, 'openLink');
    assert.match(link, /\/miniapp\/open\.html#u=\d+&k=/);
    await waitForView(page, 'waiting');
    assert.match(await page.getByTestId('status').innerText(), /Confirm the payment in PayPal/);
  });
});

test('Stars end to end: the invoice callback is a hint; the page shows the balance once the server saw successful_payment', { timeout: TEST_TIMEOUT }, async (t) => {
  if (!STARS_BASE_URL || !STARS_SECRET) {
    t.skip('STARS_BASE_URL / STARS_SECRET not set');
    return;
  }
  await withTelegramPage({ baseUrl: STARS_BASE_URL }, async ({ page, user }) => {
    await waitForView(page, 'main');
    await selectPackage(page, 500);
    await waitForMainButton(page, 'Pay ⭐ 1,250');
    const [response] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname.endsWith('/api/miniapp/create-payment')),
      clickMainButton(page),
    ]);
    const created = await response.json();
    assert.equal(created.opens, 'invoice');
    assert.deepEqual(await waitForCall(page, 'openInvoice'), [created.payment_url]);
    await waitForView(page, 'waiting');
    assert.equal(await page.evaluate(() => window.__tg.closingConfirmation()), true, 'closing asks for confirmation while a payment is open');

    // The client says "paid" before the server knows: the page asks the server, which says
    // pending, and keeps waiting.
    const [asked] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname.includes('/api/miniapp/payment-status/')),
      page.evaluate(() => window.__tg.closeInvoice('paid')),
    ]);
    assert.equal((await asked.json()).status, 'pending');
    await waitForView(page, 'waiting');
    assert.equal(await page.getByTestId('balance').textContent(), '0');

    // Telegram delivers successful_payment to the bot (here: the bot's webhook route).
    const update = {
      update_id: 1,
      message: {
        message_id: 1, date: Math.floor(Date.now() / 1000),
        chat: { id: user.id, type: 'private', first_name: user.first_name },
        from: { id: user.id, is_bot: false, first_name: user.first_name },
        successful_payment: {
          currency: 'XTR', total_amount: 1250, invoice_payload: created.payment_id,
          telegram_payment_charge_id: `charge_${created.payment_id}`, provider_payment_charge_id: '',
        },
      },
    };
    const delivered = await fetch(`${STARS_BASE_URL}/api/miniapp/webhooks/stars`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': STARS_SECRET },
      body: JSON.stringify(update),
    });
    assert.equal(delivered.status, 200, await delivered.text());
    await waitForView(page, 'success');
    assert.equal(await page.getByTestId('success-balance').innerText(), '500');
    assert.equal(await page.evaluate(() => window.__tg.closingConfirmation()), false, 'no confirmation once it is over');
  });
});

test('outside Telegram without dev login the page asks to open it from the bot, with a link to it', { timeout: TEST_TIMEOUT }, async (t) => {
  const catalog = await getCatalog(BASE_URL);
  if (catalog.dev_login) {
    t.skip('BASE_URL has dev login on');
    return;
  }
  assert.match(catalog.bot_url || '', /^https:\/\/t\.me\/\w+$/, 'the server knows its bot');
  const context = await newContext();
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    await page.goto(`${BASE_URL}/miniapp/`);
    await waitForView(page, 'blocked');
    assert.match(await page.getByTestId('view-blocked').innerText(), /Open this page from the Telegram bot/);
    assert.equal(await page.getByTestId('view-main').isVisible(), false);
    assert.equal(await page.getByTestId('pay-button').isVisible(), false);
    assert.equal(await page.getByTestId('bot-link').getAttribute('href'), catalog.bot_url);

    // Paid in an external browser: the provider's return link lands here, and leads on to the bot.
    await page.goto(`${BASE_URL}/miniapp/?payment_id=pay_somebodys`);
    await waitForView(page, 'blocked');
    assert.equal(await page.getByTestId('blocked-title').innerText(), 'Return to Telegram');
    assert.equal(await page.getByTestId('bot-link').isVisible(), true);
    assert.equal(await page.getByTestId('bot-link').getAttribute('href'), catalog.bot_url);
    await shot(page, 'returned-outside.png');
  } finally {
    await context.close();
  }
});

test('dev mode: outside Telegram the page logs in, pays with the in-page button, and browser Back keeps the order', { timeout: TEST_TIMEOUT }, async (t) => {
  if (!DEV_BASE_URL) {
    t.skip('DEV_BASE_URL is not set (a server without a bot token, dev login on)');
    return;
  }
  const catalog = await getCatalog(DEV_BASE_URL);
  assert.equal(catalog.dev_login, true, 'DEV_BASE_URL has dev login on');
  const context = await newContext({ viewport: { width: 390, height: 844 }, locale: 'en-US' });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    const [login] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/api/miniapp/dev-login'),
      page.goto(`${DEV_BASE_URL}/miniapp/`),
    ]);
    assert.equal(login.status(), 200);
    assert.equal(login.request().postDataJSON().language_code, 'en-US');
    await waitForView(page, 'main');
    await page.getByTestId('dev-badge').waitFor();
    assert.equal(await page.getByTestId('dev-badge').innerText(), 'Development mode');
    assert.equal(await page.locator('input[name="package"]').count(), 4);
    const pay = page.getByTestId('pay-button');
    await pay.waitFor();
    assert.equal(await pay.isDisabled(), true, 'nothing chosen yet');
    await page.waitForFunction(() => /^\d/.test(document.querySelector('[data-testid="balance"]').textContent));
    const before = Number((await page.getByTestId('balance').innerText()).replace(/\D/g, ''));
    await selectPackage(page, 200);
    await page.getByTestId('email').fill('back@example.com');
    assert.equal((await pay.innerText()).trim(), 'Pay $10.00');
    await shot(page, 'main-browser.png', false);
    if (!catalog.sandbox) return;

    // Outside Telegram the checkout is a normal navigation; browser Back brings the order back.
    await Promise.all([page.waitForURL(/\/sandbox\/checkout\//), pay.click()]);
    await page.goBack();
    await page.locator('body[data-state="waiting"], body[data-state="main"]').waitFor();
    if (await page.getByTestId('cancel-wait-button').isVisible()) await page.getByTestId('cancel-wait-button').click();
    await waitForView(page, 'main');
    assert.equal(await page.locator('input[name="package"][value="200"]').isChecked(), true, 'the chosen package survived Back');
    assert.equal(await page.getByTestId('email').inputValue(), 'back@example.com');

    await selectPackage(page, 100);
    await Promise.all([page.waitForURL(/\/sandbox\/checkout\//), pay.click()]);
    // An error on the sandbox form (a past expiry) keeps what was typed.
    await page.fill('input[name="card_number"]', '4242 4242 4242 4242');
    await page.fill('input[name="expiry"]', '01/20');
    await page.fill('input[name="cvc"]', '123');
    await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST' && r.url().includes('/sandbox/checkout/')), page.locator('form button[type="submit"]').click()]);
    await page.waitForLoadState('domcontentloaded');
    await page.locator('input[name="card_number"]').waitFor();
    assert.equal(await page.locator('input[name="card_number"]').inputValue(), '4242 4242 4242 4242', 'the card number is kept after an error');
    assert.equal(await page.locator('input[name="expiry"]').inputValue(), '01/20');
    assert.equal(await page.locator('input[name="expiry"]').getAttribute('aria-invalid'), 'true');
    await page.fill('input[name="expiry"]', futureExpiry());
    await page.fill('input[name="cvc"]', '123');
    await page.locator('form button[type="submit"]').click();
    await Promise.all([page.waitForURL(/\/miniapp\/\?payment_id=/), page.getByTestId('sandbox-return').click()]);
    await waitForView(page, 'success');
    assert.equal(Number((await page.getByTestId('success-balance').innerText()).replace(/\D/g, '')), before + 100);
  } finally {
    await context.close();
  }
});

test('the sandbox checkout speaks the buyer language and formats money with Intl', { timeout: TEST_TIMEOUT }, async () => {
  await withTelegramPage({ language: 'ru' }, async ({ page, context }) => {
    await waitForView(page, 'main');
    await selectPackage(page, 500);
    await waitForMainButton(page, 'Оплатить 25,00 $');
    await clickMainButton(page);
    const [link] = await waitForCall(page, 'openLink');
    assert.ok(link.endsWith('&l=ru'), link);
    const checkout = await followHandoff(context, link);
    assert.equal(await checkout.evaluate(() => document.documentElement.lang), 'ru');
    const text = await checkout.locator('body').innerText();
    assert.match(text, /25,00\s\$/, 'the amount formatted for Russian');
    assert.doesNotMatch(text, /25\.00 USD/);
    await shot(checkout, 'sandbox-ru.png');
    await submitSandboxCardOn(checkout, '4242 4242 4242 4242');
    await waitForView(page, 'success');
    assert.match(await page.getByTestId('success-amount').innerText(), /^25,00\s\$$/);
  });
});
