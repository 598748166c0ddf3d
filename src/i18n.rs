//! What the bot and the Stars invoices say, in Russian (the product document's wording) and
//! English: one place for [`Lang`] and the texts, used by [`bot`](crate::bot) and
//! [`stars`](crate::stars) alike.

use miniapp_core::ledger::{EntryKind, JournalEntry};
use miniapp_core::money::{Currency, Money};

/// The two languages of the bot: Russian for `ru*`, English for everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Russian.
    Ru,
    /// English.
    En,
}

impl Lang {
    /// From a Telegram `language_code`.
    pub fn from_code(code: Option<&str>) -> Lang {
        match code {
            Some(c) if c.to_ascii_lowercase().starts_with("ru") => Lang::Ru,
            _ => Lang::En,
        }
    }
}

pub(crate) fn top_up_button(l: Lang) -> &'static str {
    match l {
        Lang::Ru => "💳 Пополнить баланс",
        Lang::En => "💳 Top up balance",
    }
}

pub(crate) fn open_page_button(l: Lang) -> &'static str {
    match l {
        Lang::Ru => "💳 Открыть страницу оплаты",
        Lang::En => "💳 Open the payment page",
    }
}

pub(crate) fn history_button(l: Lang) -> &'static str {
    match l {
        Lang::Ru => "📊 История операций",
        Lang::En => "📊 History",
    }
}

pub(crate) fn main_menu_button(l: Lang) -> &'static str {
    match l {
        Lang::Ru => "◀️ Главное меню",
        Lang::En => "◀️ Main menu",
    }
}

pub(crate) fn menu_button_text(l: Lang) -> &'static str {
    top_up_button(l)
}

pub(crate) fn welcome(l: Lang, balance: i64) -> String {
    match l {
        Lang::Ru => format!(
            "👋 Добро пожаловать!\n\n💰 Ваш баланс: {balance} токенов\n\nПополнить баланс можно кнопкой ниже."
        ),
        Lang::En => format!(
            "👋 Welcome!\n\n💰 Your balance: {balance} tokens\n\nTop up with the button below."
        ),
    }
}

/// Variant 2 of the product document (`/pay`).
pub(crate) fn pay(l: Lang) -> &'static str {
    match l {
        Lang::Ru => "💵 Пополнение баланса\n\nНажмите кнопку ниже, чтобы открыть страницу оплаты:",
        Lang::En => "💵 Top up your balance\n\nTap the button below to open the payment page:",
    }
}

/// Variant 1 of the product document (`/balance`).
pub(crate) fn balance(l: Lang, balance: i64) -> String {
    match l {
        Lang::Ru => format!("💰 Ваш баланс: {balance} токенов\n\nВыберите действие:"),
        Lang::En => format!("💰 Your balance: {balance} tokens\n\nChoose an action:"),
    }
}

/// Variant 3 of the product document.
pub(crate) fn insufficient(l: Lang, balance: i64, cost: u64) -> String {
    match l {
        Lang::Ru => format!(
            "❌ Недостаточно средств!\n\nВаш баланс: {balance} токенов\nНеобходимо: {cost} токенов\n\nПополните баланс, чтобы продолжить:"
        ),
        Lang::En => format!(
            "❌ Insufficient funds!\n\nYour balance: {balance} tokens\nRequired: {cost} tokens\n\nTop up your balance to continue:"
        ),
    }
}

fn amount(m: Money) -> String {
    if m.currency() == Currency::USD {
        format!("${}", m.to_decimal_string())
    } else if m.currency() == Currency::XTR {
        format!("⭐ {}", m.to_decimal_string())
    } else {
        m.to_string()
    }
}

/// The payment-success notification of the product document.
pub fn payment_success(l: Lang, tokens: u64, paid: Money) -> String {
    match l {
        Lang::Ru => format!(
            "✅ Платеж успешно выполнен!\n\nЗачислено: {tokens} токенов\nСумма: {}\n\nСпасибо за покупку! 🎉",
            amount(paid)
        ),
        Lang::En => format!(
            "✅ Payment successful!\n\nCredited: {tokens} tokens\nAmount: {}\n\nThank you for your purchase! 🎉",
            amount(paid)
        ),
    }
}

/// The message to a payer whose extra charge (a second payment of one order) was refunded.
pub fn duplicate_charge_refunded(l: Lang, refunded: Money) -> String {
    match l {
        Lang::Ru => format!(
            "↩️ Вы оплатили один заказ дважды. Лишний платёж ({}) возвращён; токены за заказ остаются на балансе.",
            amount(refunded)
        ),
        Lang::En => format!(
            "↩️ You paid for one order twice. The extra payment ({}) has been refunded; the tokens for the order stay on your balance.",
            amount(refunded)
        ),
    }
}

/// The message to a payer whose payment was refunded by the shop (an operator's decision).
pub fn payment_refunded(l: Lang, refunded: Money) -> String {
    match l {
        Lang::Ru => format!("↩️ Ваш платёж ({}) возвращён.", amount(refunded)),
        Lang::En => format!("↩️ Your payment ({}) has been refunded.", amount(refunded)),
    }
}

/// The line that opens the notification of a test payment (a sandbox or test-mode provider).
pub fn test_payment_note(l: Lang) -> &'static str {
    match l {
        Lang::Ru => "🧪 Тестовый платёж: настоящие деньги не списаны.",
        Lang::En => "🧪 Test payment: no real money was charged.",
    }
}

pub(crate) fn history(l: Lang, entries: &[JournalEntry]) -> String {
    if entries.is_empty() {
        return match l {
            Lang::Ru => "📊 Операций пока нет.".into(),
            Lang::En => "📊 No operations yet.".into(),
        };
    }
    let mut out = match l {
        Lang::Ru => String::from("📊 Последние операции:\n"),
        Lang::En => String::from("📊 Recent operations:\n"),
    };
    for e in entries {
        let kind = match (l, e.kind) {
            (Lang::Ru, EntryKind::Credit) => "пополнение",
            (Lang::Ru, EntryKind::Spend) => "списание",
            (Lang::Ru, EntryKind::Clawback) => "возврат платежа",
            (Lang::En, EntryKind::Credit) => "top-up",
            (Lang::En, EntryKind::Spend) => "spent",
            (Lang::En, EntryKind::Clawback) => "refund reversal",
            (Lang::Ru, EntryKind::Adjustment) => "корректировка",
            (Lang::En, EntryKind::Adjustment) => "adjustment",
            (Lang::Ru, EntryKind::Restore) => "возврат не состоялся",
            (Lang::En, EntryKind::Restore) => "refund failed, returned",
            _ => "",
        };
        let date = crate::http::date_only(e.created_at);
        out.push_str(&format!("\n{date}  {:+}  {kind}", e.delta));
    }
    out
}
