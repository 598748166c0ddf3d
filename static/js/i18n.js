// Texts of the payment page, English and Russian. Functions take integers or strings that
// are already formatted (format.js), so no text here knows about money arithmetic.

function ruPlural(n, one, few, many) {
  const d10 = n % 10;
  const d100 = n % 100;
  if (d10 === 1 && d100 !== 11) return one;
  if (d10 >= 2 && d10 <= 4 && (d100 < 12 || d100 > 14)) return few;
  return many;
}

const TEXTS = {
  en: {
    pageTitle: 'Top up balance',
    title: 'Top up balance',
    subtitle: 'Buy tokens for the bot',
    balanceLabel: 'Your balance',
    tokens: (n) => (n === 1 ? 'token' : 'tokens'),
    devMode: 'Development mode',
    sandboxNote: 'Test payments: the card is a sandbox and no real money is charged.',
    starsNote: 'Paid with Telegram Stars from your Telegram balance.',
    loading: 'Loading…',
    choosePackage: 'Choose a package',
    perToken: (x) => x + ' per token',
    method: 'Payment method',
    methodCard: 'Bank card',
    methodCardBrands: 'Visa · MasterCard',
    methodStars: 'Telegram Stars',
    methodStarsHint: 'Pay inside Telegram',
    methodPayPal: 'PayPal',
    methodPayPalHint: 'Confirm in PayPal, then come back here',
    methodTest: 'Test mode',
    email: 'Email for the receipt',
    optional: 'optional',
    emailHint: 'We will send the receipt to this address.',
    emailInvalid: 'This does not look like an email address. Check it or leave the field empty.',
    pay: (price) => 'Pay ' + price,
    creating: 'Creating the payment…',
    secure: 'Card details are entered on the payment provider’s page, never on this one.',
    blockedTitle: 'Open this page from the Telegram bot',
    blockedText: 'This payment page works inside Telegram. Open the bot and tap “Top up balance”.',
    returnedTitle: 'Return to Telegram',
    blockedReturned: 'Your payment is being processed. Return to the bot in Telegram: the payment page there shows the result and your balance.',
    openBot: 'Open the bot',
    sessionTitle: 'This session has expired',
    sessionText: 'For your safety the payment page works only for a while after it was opened. Close it and open it again from the bot.',
    sessionInvalid: 'We could not verify your Telegram session. Close this page and open it again from the bot.',
    close: 'Close',
    closeAndReopen: 'Close and reopen from the bot',
    waitingTitle: 'Waiting for the payment',
    waitingLink: 'Finish the payment on the payment page. This screen updates by itself.',
    waitingPayPal: 'Confirm the payment in PayPal. This screen updates by itself once PayPal has taken it.',
    waitingInvoice: 'Finish the payment in Telegram. This screen updates by itself.',
    waitingReturned: 'Checking the payment…',
    waitingNoWindow: 'If the payment page did not open or you closed it, open it again.',
    stillWaiting: 'Still waiting for the confirmation. This can take a minute.',
    connectionRetry: 'Connection problem. Retrying…',
    reopen: 'Open the payment page again',
    back: 'Back',
    successTitle: 'Payment successful',
    credited: (n, unit) => '+' + n + ' ' + unit + ' credited',
    newBalance: 'New balance',
    buyMore: 'Buy more',
    done: 'Done',
    retry: 'Try again',
    otherPackage: 'Choose another package',
    reload: 'Reload',
    loadFailedTitle: 'Could not load the page',
    invoiceClosed: 'The payment window was closed. No money was taken.',
    orderSummary: (tokens, price) => tokens + ' · ' + price,
    errorTitle: 'Payment not started',
    history: 'Purchase history',
    historyTitle: 'History',
    historyEmpty: 'No purchases yet.',
    historyMore: 'Show more',
    historyBalance: (x) => 'Balance ' + x,
    kinds: {
      credit: 'Purchase',
      spend: 'Spent',
      clawback: 'Refund or dispute',
      adjustment: 'Correction by support',
      restore: 'Refund canceled',
    },
    confirmClose: 'Close while the payment is open?',
    reasons: {
      card_declined: 'The bank declined the card. Try another card or contact your bank.',
      insufficient_funds: 'The card has insufficient funds. Try another card.',
      expired_card: 'The card has expired. Try another card.',
      incorrect_cvc: 'The security code (CVC) was incorrect.',
      authentication_failed: 'The bank could not confirm the payment (3-D Secure). Try again.',
      processing_error: 'The bank could not process the card. Try again in a minute.',
      other: '',
    },
    status: {
      failed: ['Payment failed', 'The payment did not go through and no money was taken.'],
      expired: ['Payment expired', 'The payment was not completed in time. No money was taken.'],
      canceled: ['Payment canceled', 'The payment was canceled. No money was taken.'],
      refunded: ['Payment refunded', 'This payment was refunded to you.'],
      partially_refunded: ['Payment partially refunded', 'Part of this payment was refunded to you.'],
      disputed: ['Payment disputed', 'This payment is disputed with the bank. Contact support if you have questions.'],
      conflicted: ['Payment needs attention', 'Something is wrong with this payment. Contact support and we will sort it out.'],
      unknown: ['Payment not completed', 'The payment has an unexpected status. Contact support if money was taken.'],
      error: ['Something went wrong', ''],
    },
    errors: {
      invalid_init_data: 'We could not verify your Telegram session. Close this page and open it again from the bot.',
      expired_init_data: 'Your session has expired. Close this page and open it again from the bot.',
      user_mismatch: 'This request belongs to another Telegram account. Open the page again from the bot.',
      unknown_package: 'This package is no longer available. Reload the page and choose again.',
      price_mismatch: 'The price has changed. Reload the page to see the current prices.',
      unsupported_currency: 'This currency is not accepted for the chosen payment method.',
      unsupported_method: 'This payment method is not available right now. Choose another one.',
      invalid_email: 'The email address is not valid. Check it or leave the field empty.',
      invalid_request: 'The request was incomplete. Reload the page and try again.',
      malformed_json: 'The request could not be read. Reload the page and try again.',
      unsupported_media_type: 'The request could not be read. Reload the page and try again.',
      payload_too_large: 'The request was too large. Shorten the email address and try again.',
      idempotency_conflict: 'This purchase attempt was already used for another order. Please try again.',
      not_found: 'We could not find this payment. It may belong to another account.',
      invalid_signature: 'The payment confirmation could not be verified.',
      provider_unavailable: 'The payment provider cannot be reached right now. No money was taken. Try again in a minute.',
      provider_rejected: 'The payment provider refused the payment. Try again later or choose another method.',
      storage_unavailable: 'The service is temporarily unavailable. Try again in a minute.',
      payment_in_progress: 'Your payment is being prepared. Press Pay again in a few seconds.',
      payment_closed: 'This payment attempt has closed. Press Pay to start a new one.',
      too_many_open_payments: 'You have several unfinished payments. Finish or wait for one of them, then try again.',
      rate_limited: 'Too many attempts in a short time. Wait a minute and try again.',
      request_timeout: 'The server took too long to answer. Try again.',
      method_not_allowed: 'The request could not be read. Reload the page and try again.',
      unavailable: 'The service is temporarily unavailable. Try again in a minute.',
      gateway_timeout: 'The service took too long to answer. Try again in a minute.',
      internal: 'Something went wrong on our side. Try again in a minute.',
      network: 'No connection to the server. Check your internet connection and try again.',
      bad_response: 'The server sent an unexpected reply. Try again in a minute.',
      no_methods: 'No payment method is available right now.',
      generic: 'Something went wrong. Try again in a minute.',
    },
  },
  ru: {
    pageTitle: 'Пополнение баланса',
    title: 'Пополнение баланса',
    subtitle: 'Купите токены для бота',
    balanceLabel: 'Ваш баланс',
    tokens: (n) => ruPlural(n, 'токен', 'токена', 'токенов'),
    devMode: 'Режим разработки',
    sandboxNote: 'Тестовые платежи: карта в песочнице, настоящие деньги не списываются.',
    starsNote: 'Оплата звёздами Telegram с вашего баланса в Telegram.',
    loading: 'Загрузка…',
    choosePackage: 'Выберите пакет',
    perToken: (x) => x + ' за токен',
    method: 'Способ оплаты',
    methodCard: 'Банковская карта',
    methodCardBrands: 'Visa · MasterCard',
    methodStars: 'Звёзды Telegram',
    methodStarsHint: 'Оплата внутри Telegram',
    methodPayPal: 'PayPal',
    methodPayPalHint: 'Подтвердите оплату в PayPal и вернитесь сюда',
    methodTest: 'Тестовый режим',
    email: 'Email для чека',
    optional: 'необязательно',
    emailHint: 'Пришлём чек на этот адрес.',
    emailInvalid: 'Это не похоже на адрес почты. Проверьте его или оставьте поле пустым.',
    pay: (price) => 'Оплатить ' + price,
    creating: 'Создаём платёж…',
    secure: 'Данные карты вводятся на странице платёжного провайдера, а не здесь.',
    blockedTitle: 'Откройте эту страницу из Telegram-бота',
    blockedText: 'Страница оплаты работает внутри Telegram. Откройте бота и нажмите «Пополнить баланс».',
    returnedTitle: 'Вернитесь в Telegram',
    blockedReturned: 'Платёж обрабатывается. Вернитесь к боту в Telegram: там страница оплаты покажет результат и баланс.',
    openBot: 'Открыть бота',
    sessionTitle: 'Сессия устарела',
    sessionText: 'Ради безопасности страница оплаты работает ограниченное время после открытия. Закройте её и откройте снова из бота.',
    sessionInvalid: 'Не удалось проверить сессию Telegram. Закройте страницу и откройте её снова из бота.',
    close: 'Закрыть',
    closeAndReopen: 'Закрыть и открыть снова из бота',
    waitingTitle: 'Ожидаем оплату',
    waitingLink: 'Завершите оплату на странице оплаты. Этот экран обновится сам.',
    waitingPayPal: 'Подтвердите оплату в PayPal. Этот экран обновится сам, когда PayPal спишет деньги.',
    waitingInvoice: 'Завершите оплату в Telegram. Этот экран обновится сам.',
    waitingReturned: 'Проверяем платёж…',
    waitingNoWindow: 'Если страница оплаты не открылась или вы её закрыли, откройте её снова.',
    stillWaiting: 'Всё ещё ждём подтверждения. Это может занять минуту.',
    connectionRetry: 'Проблема со связью. Пробуем снова…',
    reopen: 'Открыть страницу оплаты снова',
    back: 'Назад',
    successTitle: 'Оплата прошла',
    credited: (n, unit) => 'Зачислено +' + n + ' ' + unit,
    newBalance: 'Новый баланс',
    buyMore: 'Купить ещё',
    done: 'Готово',
    retry: 'Попробовать снова',
    otherPackage: 'Выбрать другой пакет',
    reload: 'Обновить',
    loadFailedTitle: 'Не удалось загрузить страницу',
    invoiceClosed: 'Окно оплаты закрыто. Деньги не списаны.',
    orderSummary: (tokens, price) => tokens + ' · ' + price,
    errorTitle: 'Платёж не создан',
    history: 'История покупок',
    historyTitle: 'История',
    historyEmpty: 'Покупок пока нет.',
    historyMore: 'Показать ещё',
    historyBalance: (x) => 'Баланс ' + x,
    kinds: {
      credit: 'Покупка',
      spend: 'Списание',
      clawback: 'Возврат или спор',
      adjustment: 'Исправление поддержкой',
      restore: 'Возврат отменён',
    },
    confirmClose: 'Закрыть, пока платёж открыт?',
    reasons: {
      card_declined: 'Банк отклонил карту. Попробуйте другую карту или обратитесь в банк.',
      insufficient_funds: 'На карте недостаточно средств. Попробуйте другую карту.',
      expired_card: 'Срок действия карты истёк. Попробуйте другую карту.',
      incorrect_cvc: 'Неверный код безопасности (CVC).',
      authentication_failed: 'Банк не подтвердил платёж (3-D Secure). Попробуйте снова.',
      processing_error: 'Банк не смог обработать карту. Попробуйте через минуту.',
      other: '',
    },
    status: {
      failed: ['Оплата не прошла', 'Платёж не прошёл, деньги не списаны.'],
      expired: ['Время оплаты истекло', 'Платёж не был завершён вовремя. Деньги не списаны.'],
      canceled: ['Платёж отменён', 'Платёж отменён. Деньги не списаны.'],
      refunded: ['Платёж возвращён', 'Деньги за этот платёж возвращены.'],
      partially_refunded: ['Платёж частично возвращён', 'Часть суммы этого платежа возвращена.'],
      disputed: ['Платёж оспорен', 'Платёж оспаривается в банке. Если есть вопросы, напишите в поддержку.'],
      conflicted: ['Платёж требует проверки', 'С этим платежом что-то не так. Напишите в поддержку — мы разберёмся.'],
      unknown: ['Платёж не завершён', 'У платежа неожиданный статус. Если деньги списаны, напишите в поддержку.'],
      error: ['Что-то пошло не так', ''],
    },
    errors: {
      invalid_init_data: 'Не удалось проверить сессию Telegram. Закройте страницу и откройте её снова из бота.',
      expired_init_data: 'Сессия устарела. Закройте страницу и откройте её снова из бота.',
      user_mismatch: 'Запрос относится к другому аккаунту Telegram. Откройте страницу снова из бота.',
      unknown_package: 'Этот пакет больше недоступен. Обновите страницу и выберите снова.',
      price_mismatch: 'Цена изменилась. Обновите страницу, чтобы увидеть актуальные цены.',
      unsupported_currency: 'Эта валюта не принимается для выбранного способа оплаты.',
      unsupported_method: 'Этот способ оплаты сейчас недоступен. Выберите другой.',
      invalid_email: 'Неверный адрес почты. Проверьте его или оставьте поле пустым.',
      invalid_request: 'Запрос неполный. Обновите страницу и попробуйте снова.',
      malformed_json: 'Не удалось прочитать запрос. Обновите страницу и попробуйте снова.',
      unsupported_media_type: 'Не удалось прочитать запрос. Обновите страницу и попробуйте снова.',
      payload_too_large: 'Слишком большой запрос. Сократите адрес почты и попробуйте снова.',
      idempotency_conflict: 'Эта попытка оплаты уже использована для другого заказа. Попробуйте ещё раз.',
      not_found: 'Платёж не найден. Возможно, он относится к другому аккаунту.',
      invalid_signature: 'Не удалось проверить подтверждение платежа.',
      provider_unavailable: 'Платёжный провайдер сейчас недоступен. Деньги не списаны. Попробуйте через минуту.',
      provider_rejected: 'Платёжный провайдер отклонил платёж. Попробуйте позже или выберите другой способ.',
      storage_unavailable: 'Сервис временно недоступен. Попробуйте через минуту.',
      payment_in_progress: 'Платёж готовится. Нажмите «Оплатить» ещё раз через несколько секунд.',
      payment_closed: 'Эта попытка оплаты закрыта. Нажмите «Оплатить», чтобы начать новую.',
      too_many_open_payments: 'У вас несколько незавершённых платежей. Завершите один из них или подождите и попробуйте снова.',
      rate_limited: 'Слишком много попыток за короткое время. Подождите минуту и попробуйте снова.',
      request_timeout: 'Сервер отвечал слишком долго. Попробуйте снова.',
      method_not_allowed: 'Не удалось прочитать запрос. Обновите страницу и попробуйте снова.',
      unavailable: 'Сервис временно недоступен. Попробуйте через минуту.',
      gateway_timeout: 'Сервис отвечал слишком долго. Попробуйте через минуту.',
      internal: 'Что-то пошло не так на нашей стороне. Попробуйте через минуту.',
      network: 'Нет связи с сервером. Проверьте интернет и попробуйте снова.',
      bad_response: 'Сервер прислал неожиданный ответ. Попробуйте через минуту.',
      no_methods: 'Сейчас нет доступных способов оплаты.',
      generic: 'Что-то пошло не так. Попробуйте через минуту.',
    },
  },
};

/** Error codes that mean the session (init data) cannot be used any more. */
export const SESSION_ERRORS = new Set(['invalid_init_data', 'expired_init_data', 'user_mismatch']);

let lang = 'en';

/** `ru` for any Russian language tag, `en` otherwise. */
export function pickLanguage(code) {
  return /^ru/i.test(String(code || '')) ? 'ru' : 'en';
}

export function setLanguage(code) {
  lang = pickLanguage(code);
  return lang;
}

export function language() {
  return lang;
}

/** The text for `key` in the current language. */
export function t(key) {
  return TEXTS[lang][key];
}

/** A readable sentence for an API error (see api.js). */
export function errorText(err) {
  const errors = t('errors');
  if (err && Object.prototype.hasOwnProperty.call(errors, err.code)) return errors[err.code];
  if (err && err.message) return err.message;
  return errors.generic;
}

/** The sentence for a provider's failure code, or '' when there is none worth showing. */
export function reasonText(code) {
  const reasons = t('reasons');
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(reasons, code) ? reasons[code] : '';
}

/** Fills every `[data-i18n]` element and the document's language and title. */
export function applyTexts(root) {
  document.documentElement.lang = lang;
  document.title = t('pageTitle');
  (root || document).querySelectorAll('[data-i18n]').forEach((node) => {
    const value = t(node.getAttribute('data-i18n'));
    if (typeof value === 'string') node.textContent = value;
  });
}
