//! Telegram bot glue (feature `teloxide`): the Stars payment updates, the commands, the history
//! callback, the "insufficient funds" helper, the menu button, and the delivery of payment
//! notifications.
//!
//! The pieces compose with a dispatcher you already have: [`payment_handler`] goes first (it
//! handles `pre_checkout_query` and `successful_payment`, which move money), then your own
//! branches, [`command_handler`] (or single commands: [`start`], [`pay`], [`balance`],
//! [`refund`]) and [`callback_handler`]. [`handler_tree`] is all of them in that order.
//!
//! ```no_run
//! # async fn run(ledger: std::sync::Arc<dyn miniapp::ledger::LedgerStore>) {
//! use miniapp::bot::{BotDeps, handler_tree};
//! use teloxide::prelude::*;
//!
//! let bot = Bot::new("123456:TOKEN");
//! let deps = BotDeps::new(ledger, Some("https://bot.example.com/miniapp/".into()));
//! Dispatcher::builder(bot, handler_tree())
//!     .dependencies(dptree::deps![deps])
//!     .build()
//!     .dispatch()
//!     .await;
//! # }
//! ```

mod notifier;

use std::sync::Arc;

use miniapp_core::ids::UserId;
use miniapp_core::ledger::{HistoryQuery, LedgerError, LedgerStore, SpendReceipt, SpendRequest};
use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;
use teloxide::types::{
    InlineKeyboardButton, InlineKeyboardMarkup, MenuButton, PreCheckoutQuery, User, WebAppInfo,
};
use teloxide::utils::command::BotCommands;

use crate::i18n as texts;
pub use crate::i18n::{Lang, payment_success, test_payment_note};
pub use notifier::{NotifierOptions, RefundMessages, deliver_due_notifications, run_notifier};

/// Errors of the bot's handlers.
pub type BotError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What the handlers need: the ledger and the payment page's URL.
#[derive(Debug, Clone)]
pub struct BotDeps {
    ledger: Arc<dyn LedgerStore>,
    page_url: Option<url::Url>,
    refund_policy: miniapp_core::payment::RefundPolicy,
    owners: Vec<i64>,
    admin: Option<Arc<dyn miniapp_core::ledger::LedgerAdmin>>,
}

impl BotDeps {
    /// `page_url` is `{PUBLIC_BASE_URL}/miniapp/`; Telegram opens Mini Apps only over https, so
    /// with another scheme (or none) the buttons become plain links (or are left out).
    pub fn new(ledger: Arc<dyn LedgerStore>, page_url: Option<String>) -> BotDeps {
        let page_url = page_url.and_then(|u| url::Url::parse(&u).ok());
        BotDeps {
            ledger,
            page_url,
            refund_policy: miniapp_core::payment::RefundPolicy::Debt,
            owners: Vec::new(),
            admin: None,
        }
    }

    /// The operator's view of the ledger, for the owners' `/payment pay_…` (without it the
    /// command answers that the store has none).
    #[must_use]
    pub fn with_admin(
        mut self,
        admin: Option<Arc<dyn miniapp_core::ledger::LedgerAdmin>>,
    ) -> BotDeps {
        self.admin = admin;
        self
    }

    /// What refunds after spending do (default: debt).
    #[must_use]
    pub fn with_refund_policy(mut self, policy: miniapp_core::payment::RefundPolicy) -> BotDeps {
        self.refund_policy = policy;
        self
    }

    /// Telegram user ids allowed to use owner commands (`/refund <payment id>`).
    #[must_use]
    pub fn with_owners(mut self, owners: Vec<i64>) -> BotDeps {
        self.owners = owners;
        self
    }

    fn page_button(&self, text: &str) -> Option<InlineKeyboardButton> {
        let url = self.page_url.clone()?;
        Some(if url.scheme() == "https" {
            InlineKeyboardButton::web_app(text, WebAppInfo { url })
        } else {
            InlineKeyboardButton::url(text, url)
        })
    }
}

/// The bot's commands.
#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase", description = "Commands:")]
pub enum Command {
    /// Welcome, balance, and a button to the payment page.
    Start,
    /// Open the payment page.
    Pay,
    /// Balance, top-up, history.
    Balance,
    /// Owner only: refund a Telegram Stars payment (`/refund pay_…`).
    Refund(String),
    /// Owner only: a payment with its events, journal lines, refunds and resolutions
    /// (`/payment pay_…`), as `full_bot admin payment` prints it.
    Payment(String),
}

/// Callback data of the inline buttons.
const HISTORY: &str = "balance_history";
const MAIN_MENU: &str = "main_menu";

fn lang_of(user: Option<&User>) -> Lang {
    Lang::from_code(user.and_then(|u| u.language_code.as_deref()))
}

fn user_id(user: Option<&User>) -> Option<UserId> {
    user.and_then(|u| i64::try_from(u.id.0).ok())
        .and_then(UserId::new)
}

/// The money-critical updates of Telegram Stars: `pre_checkout_query` (accept only the exact
/// pending order) and the `successful_payment` message (credit once). **Put it first** in your
/// dispatch tree, before any branch of your own that takes messages: a catch-all message handler
/// placed before it would swallow `successful_payment`, and the credit would then arrive only
/// through the reconciliation sweep. Needs [`BotDeps`] in the dependencies.
///
/// ```no_run
/// # use miniapp::bot::{BotDeps, BotError, payment_handler};
/// # use teloxide::prelude::*;
/// # async fn run(bot: Bot, deps: BotDeps) {
/// let tree = dptree::entry()
///     .branch(payment_handler()) // first
///     .branch(Update::filter_message().endpoint(|bot: Bot, msg: Message| async move {
///         bot.send_message(msg.chat.id, "my bot's own answer").await?;
///         Ok::<(), BotError>(())
///     }));
/// Dispatcher::builder(bot, tree).dependencies(dptree::deps![deps]).build().dispatch().await;
/// # }
/// ```
pub fn payment_handler() -> UpdateHandler<BotError> {
    dptree::entry()
        .branch(Update::filter_pre_checkout_query().endpoint(on_pre_checkout))
        .branch(
            Update::filter_message()
                .filter_map(|m: Message| m.successful_payment().cloned())
                .endpoint(on_successful_payment),
        )
}

/// The commands of [`Command`] (`/start`, `/pay`, `/balance`, `/refund`). Needs [`BotDeps`] and
/// teloxide's `Me` (the dispatcher provides it). To use only some of them in your own command
/// enum, call [`start`], [`pay`], [`balance`] or [`refund`] from your endpoints.
pub fn command_handler() -> UpdateHandler<BotError> {
    Update::filter_message()
        .filter_command::<Command>()
        .endpoint(on_command)
}

/// The inline buttons of the balance menu (history, main menu). Needs [`BotDeps`].
pub fn callback_handler() -> UpdateHandler<BotError> {
    Update::filter_callback_query().endpoint(on_callback)
}

/// Everything of this module in the right order: [`payment_handler`] first, then
/// [`command_handler`] and [`callback_handler`]. Needs [`BotDeps`] and teloxide's `Me` in the
/// dependencies (the dispatcher provides `Me`).
pub fn handler_tree() -> UpdateHandler<BotError> {
    dptree::entry()
        .branch(payment_handler())
        .branch(command_handler())
        .branch(callback_handler())
}

async fn on_pre_checkout(bot: Bot, q: PreCheckoutQuery, deps: BotDeps) -> Result<(), BotError> {
    crate::stars::answer_pre_checkout(&bot, &*deps.ledger, &q).await?;
    Ok(())
}

async fn on_successful_payment(
    payment: teloxide::types::SuccessfulPayment,
    deps: BotDeps,
) -> Result<(), BotError> {
    // Telegram delivers this update once: a storage blip must not cost the credit, so retry
    // transient failures here before giving up.
    let mut delay = std::time::Duration::from_millis(200);
    for attempt in 1..=6 {
        match crate::stars::apply_successful_payment(&*deps.ledger, &payment, deps.refund_policy)
            .await
        {
            Ok(Some(receipt)) if receipt.credited > 0 => {
                tracing::info!(payment = %receipt.payment.id, tokens = receipt.credited, "Stars payment credited");
                return Ok(());
            }
            Ok(_) => return Ok(()),
            Err(e) if e.is_transient() && attempt < 6 => {
                tracing::warn!(error = %e, attempt, "Stars payment not applied yet; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => {
                // Still recoverable: a status request on the payment reconciles it through
                // getStarTransactions (see the closing note of this release about a sweeper).
                tracing::error!(error = %e, charge = %payment.telegram_payment_charge_id.0, "Stars payment NOT credited; reconcile it");
                return Err(e.into());
            }
        }
    }
    Ok(())
}

async fn on_command(
    bot: Bot,
    msg: Message,
    command: Command,
    deps: BotDeps,
) -> Result<(), BotError> {
    match command {
        Command::Start => start(bot, msg, deps).await,
        Command::Pay => pay(bot, msg, deps).await,
        Command::Balance => balance(bot, msg, deps).await,
        Command::Refund(arg) => refund(bot, msg, deps, arg).await,
        Command::Payment(arg) => payment(bot, msg, deps, arg).await,
    }
}

/// `/start`: welcome, the balance, and a button to the payment page.
///
/// # Errors
/// Telegram or storage errors.
pub async fn start(bot: Bot, msg: Message, deps: BotDeps) -> Result<(), BotError> {
    let lang = lang_of(msg.from.as_ref());
    let Some(user) = user_id(msg.from.as_ref()) else {
        return Ok(());
    };
    let balance = deps.ledger.balance(user).await?.balance;
    let mut reply = bot.send_message(msg.chat.id, texts::welcome(lang, balance));
    if let Some(button) = deps.page_button(texts::top_up_button(lang)) {
        reply = reply.reply_markup(InlineKeyboardMarkup::new([[button]]));
    }
    reply.await?;
    Ok(())
}

/// `/pay`: a button to the payment page (the product document's second variant).
///
/// # Errors
/// Telegram errors.
pub async fn pay(bot: Bot, msg: Message, deps: BotDeps) -> Result<(), BotError> {
    let lang = lang_of(msg.from.as_ref());
    let mut reply = bot.send_message(msg.chat.id, texts::pay(lang));
    if let Some(button) = deps.page_button(texts::open_page_button(lang)) {
        reply = reply.reply_markup(InlineKeyboardMarkup::new([[button]]));
    }
    reply.await?;
    Ok(())
}

/// `/balance`: the balance with top-up, history and main-menu buttons (the first variant).
///
/// # Errors
/// Telegram or storage errors.
pub async fn balance(bot: Bot, msg: Message, deps: BotDeps) -> Result<(), BotError> {
    let lang = lang_of(msg.from.as_ref());
    let Some(user) = user_id(msg.from.as_ref()) else {
        return Ok(());
    };
    send_balance_menu(&bot, msg.chat.id, user, lang, &deps).await?;
    Ok(())
}

/// `/refund pay_…`, owners only ([`BotDeps::with_owners`]): refunds a Telegram Stars payment and
/// takes its tokens back. Anyone else gets no answer.
///
/// # Errors
/// Telegram errors (a refused refund is answered as text).
pub async fn refund(bot: Bot, msg: Message, deps: BotDeps, arg: String) -> Result<(), BotError> {
    let Some(user) = user_id(msg.from.as_ref()) else {
        return Ok(());
    };
    if !deps.owners.contains(&user.get()) {
        return Ok(());
    }
    let reply = match miniapp_core::ids::PaymentId::new(arg.trim()) {
        Err(_) => "usage: /refund pay_…".to_owned(),
        Ok(id) => {
            match crate::stars::refund_stars(&bot, &*deps.ledger, &id, deps.refund_policy).await {
                Ok(r) => format!(
                    "refunded {id}: status {}, {} tokens taken back",
                    r.payment.status, r.clawed_back
                ),
                Err(e) => format!("not refunded: {e}"),
            }
        }
    };
    bot.send_message(msg.chat.id, reply).await?;
    Ok(())
}

/// `/payment pay_…`, owners only ([`BotDeps::with_owners`]): the payment, its provider events,
/// journal lines, refunds and resolutions ([`crate::admin::payment_summary`]). Anyone else gets
/// no answer.
///
/// # Errors
/// Telegram errors (a missing payment or a storage failure is answered as text).
pub async fn payment(bot: Bot, msg: Message, deps: BotDeps, arg: String) -> Result<(), BotError> {
    let Some(user) = user_id(msg.from.as_ref()) else {
        return Ok(());
    };
    if !deps.owners.contains(&user.get()) {
        return Ok(());
    }
    let reply = match (miniapp_core::ids::PaymentId::new(arg.trim()), &deps.admin) {
        (Err(_), _) => "usage: /payment pay_…".to_owned(),
        (Ok(_), None) => "this store has no operator view (use SQLite or PostgreSQL)".to_owned(),
        (Ok(id), Some(admin)) => {
            match crate::admin::PaymentView::load(&**admin, &*deps.ledger, &id).await {
                Ok(view) => view.to_text(),
                Err(miniapp_core::ledger::LedgerError::UnknownPayment) => {
                    format!("no payment {id}")
                }
                Err(e) => format!("cannot read {id}: {e}"),
            }
        }
    };
    // Telegram takes at most 4096 characters per message.
    let reply: String = reply.chars().take(4000).collect();
    bot.send_message(msg.chat.id, reply).await?;
    Ok(())
}

async fn send_balance_menu(
    bot: &Bot,
    chat: ChatId,
    user: UserId,
    lang: Lang,
    deps: &BotDeps,
) -> Result<(), BotError> {
    let balance = deps.ledger.balance(user).await?.balance;
    let mut rows = Vec::new();
    if let Some(button) = deps.page_button(texts::top_up_button(lang)) {
        rows.push(vec![button]);
    }
    rows.push(vec![InlineKeyboardButton::callback(
        texts::history_button(lang),
        HISTORY,
    )]);
    rows.push(vec![InlineKeyboardButton::callback(
        texts::main_menu_button(lang),
        MAIN_MENU,
    )]);
    bot.send_message(chat, texts::balance(lang, balance))
        .reply_markup(InlineKeyboardMarkup::new(rows))
        .await?;
    Ok(())
}

async fn on_callback(bot: Bot, q: CallbackQuery, deps: BotDeps) -> Result<(), BotError> {
    bot.answer_callback_query(q.id.clone()).await?;
    let lang = lang_of(Some(&q.from));
    let Some(user) = user_id(Some(&q.from)) else {
        return Ok(());
    };
    let chat = ChatId(q.from.id.0.try_into().unwrap_or(i64::MAX));
    match q.data.as_deref() {
        Some(HISTORY) => {
            let page = deps.ledger.history(user, HistoryQuery::latest(10)).await?;
            bot.send_message(chat, texts::history(lang, &page.entries))
                .await?;
        }
        Some(MAIN_MENU) => {
            let balance = deps.ledger.balance(user).await?.balance;
            let mut reply = bot.send_message(chat, texts::welcome(lang, balance));
            if let Some(button) = deps.page_button(texts::top_up_button(lang)) {
                reply = reply.reply_markup(InlineKeyboardMarkup::new([[button]]));
            }
            reply.await?;
        }
        _ => {}
    }
    Ok(())
}

/// What [`spend_or_offer_top_up`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpendOutcome {
    /// The tokens were spent (or had been, for a repeated key).
    Spent(SpendReceipt),
    /// Not enough tokens: the user got the "insufficient funds" message with a top-up button.
    InsufficientFunds {
        /// The balance at the time.
        balance: i64,
    },
}

/// Call before a paid action: spends `request.amount` tokens under `request.idempotency_key` (a retry with the same key spends
/// nothing more), or tells the user there are not enough tokens, with a top-up button (the
/// product document's variant 3), and returns that outcome.
///
/// # Errors
/// Storage failures and Telegram errors.
pub async fn spend_or_offer_top_up(
    bot: &Bot,
    deps: &BotDeps,
    chat: ChatId,
    lang: Lang,
    request: &SpendRequest,
) -> Result<SpendOutcome, BotError> {
    match deps.ledger.spend(request).await {
        Ok(receipt) => Ok(SpendOutcome::Spent(receipt)),
        Err(LedgerError::InsufficientFunds { balance, .. }) => {
            let mut reply = bot.send_message(
                chat,
                texts::insufficient(lang, balance, request.amount.get()),
            );
            if let Some(button) = deps.page_button(texts::top_up_button(lang)) {
                reply = reply.reply_markup(InlineKeyboardMarkup::new([[button]]));
            }
            reply.await?;
            Ok(SpendOutcome::InsufficientFunds { balance })
        }
        Err(e) => Err(e.into()),
    }
}

/// Sets the bot's menu button to open the payment page (replacing the manual BotFather step), when
/// the page is served over https; otherwise logs one line saying why not. Returns whether it set it.
///
/// # Errors
/// Telegram errors.
pub async fn set_menu_button(bot: &Bot, deps: &BotDeps) -> Result<bool, BotError> {
    match &deps.page_url {
        Some(url) if url.scheme() == "https" => {
            let button = MenuButton::WebApp {
                text: texts::menu_button_text(Lang::Ru).into(),
                web_app: WebAppInfo { url: url.clone() },
            };
            bot.set_chat_menu_button().menu_button(button).await?;
            tracing::info!(%url, "menu button set to the payment page");
            Ok(true)
        }
        _ => {
            tracing::warn!(
                "menu button not set: Telegram opens Mini Apps only over https, and PUBLIC_BASE_URL is not https"
            );
            Ok(false)
        }
    }
}
