//! The typed content of verified init data.

use std::fmt;

use serde::{Deserialize, Deserializer};

use super::InitDataError;
use super::parse::Fields;

/// A Telegram user as init data describes it (`user` and `receiver`).
///
/// Unknown fields are not an error; the raw JSON stays available through
/// [`VerifiedInitData::get`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct WebAppUser {
    /// The user's id (up to 52 significant bits).
    pub id: i64,
    /// Whether the user is a bot (only for `receiver`).
    #[serde(default)]
    pub is_bot: Option<bool>,
    /// First name.
    #[serde(default)]
    pub first_name: String,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Username without `@`.
    #[serde(default)]
    pub username: Option<String>,
    /// IETF language tag of the user's Telegram client, e.g. `ru` or `en`.
    #[serde(default)]
    pub language_code: Option<String>,
    /// Telegram Premium.
    #[serde(default)]
    pub is_premium: Option<bool>,
    /// Whether the user added the bot to the attachment menu.
    #[serde(default)]
    pub added_to_attachment_menu: Option<bool>,
    /// Whether the user allowed the bot to message them.
    #[serde(default)]
    pub allows_write_to_pm: Option<bool>,
    /// Profile photo URL.
    #[serde(default)]
    pub photo_url: Option<String>,
}

/// The chat a Mini App was opened from (attachment menu launches only).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct WebAppChat {
    /// Chat id.
    pub id: i64,
    /// Chat type.
    #[serde(rename = "type")]
    pub kind: ChatType,
    /// Title.
    #[serde(default)]
    pub title: String,
    /// Username.
    #[serde(default)]
    pub username: Option<String>,
    /// Photo URL.
    #[serde(default)]
    pub photo_url: Option<String>,
}

/// The type of chat the Mini App was opened from; values Telegram adds later are kept in
/// [`ChatType::Other`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChatType {
    /// The user's own chat with the bot.
    Sender,
    /// A private chat with another user.
    Private,
    /// A basic group.
    Group,
    /// A supergroup.
    Supergroup,
    /// A channel.
    Channel,
    /// Any value this version does not know.
    Other(String),
}

impl ChatType {
    fn parse(s: &str) -> ChatType {
        match s {
            "sender" => ChatType::Sender,
            "private" => ChatType::Private,
            "group" => ChatType::Group,
            "supergroup" => ChatType::Supergroup,
            "channel" => ChatType::Channel,
            other => ChatType::Other(other.to_owned()),
        }
    }
}

impl<'de> Deserialize<'de> for ChatType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(ChatType::parse(&s))
    }
}

/// Init data whose signature and age were checked: the only way to learn who the caller is.
///
/// It can only be obtained from a verifier ([`super::InitDataVerifier`],
/// [`super::ThirdPartyVerifier`]). It holds no secret and not the `hash`, so it may be logged,
/// but it is a bearer credential's content: do not echo it to other users.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedInitData {
    auth_date: u64,
    user: Option<WebAppUser>,
    receiver: Option<WebAppUser>,
    chat: Option<WebAppChat>,
    chat_type: Option<ChatType>,
    can_send_after: Option<u64>,
    /// Every pair except `hash`, sorted by key, values as decoded.
    fields: Fields,
}

impl VerifiedInitData {
    pub(crate) fn from_fields(
        fields: Fields,
        auth_date: u64,
    ) -> Result<VerifiedInitData, InitDataError> {
        fn json<T: serde::de::DeserializeOwned>(
            raw: Option<&str>,
            field: &'static str,
        ) -> Result<Option<T>, InitDataError> {
            raw.map(|raw| {
                serde_json::from_str(raw).map_err(|e| InitDataError::InvalidField {
                    field,
                    reason: e.to_string(),
                })
            })
            .transpose()
        }
        // Telegram's users take a fast path; anything it does not handle goes to `serde_json`.
        fn web_app_user(
            raw: Option<&str>,
            field: &'static str,
        ) -> Result<Option<WebAppUser>, InitDataError> {
            match raw.map(super::user_json::parse_user) {
                Some(Some(user)) => Ok(Some(user)),
                _ => json(raw, field),
            }
        }
        // One walk over the fields instead of a lookup each.
        let (mut user, mut receiver, mut chat, mut chat_type, mut can_send_after) =
            (None, None, None, None, None);
        for (key, value) in fields.iter() {
            match key {
                "user" => user = Some(value),
                "receiver" => receiver = Some(value),
                "chat" => chat = Some(value),
                "chat_type" => chat_type = Some(value),
                "can_send_after" => can_send_after = Some(value),
                _ => {}
            }
        }
        let user = web_app_user(user, "user")?;
        let receiver = web_app_user(receiver, "receiver")?;
        let chat = json(chat, "chat")?;
        let chat_type = chat_type.map(ChatType::parse);
        let can_send_after = can_send_after
            .map(|v| {
                v.parse().map_err(|_| InitDataError::InvalidField {
                    field: "can_send_after",
                    reason: "not an integer".into(),
                })
            })
            .transpose()?;
        Ok(VerifiedInitData {
            auth_date,
            user,
            receiver,
            chat,
            chat_type,
            can_send_after,
            fields,
        })
    }

    /// Unix time (seconds) at which Telegram signed the data.
    pub fn auth_date(&self) -> u64 {
        self.auth_date
    }

    /// The user who opened the Mini App.
    pub fn user(&self) -> Option<&WebAppUser> {
        self.user.as_ref()
    }

    /// The chat partner (attachment menu launches from a private chat).
    pub fn receiver(&self) -> Option<&WebAppUser> {
        self.receiver.as_ref()
    }

    /// The chat (attachment menu launches from a group or channel).
    pub fn chat(&self) -> Option<&WebAppChat> {
        self.chat.as_ref()
    }

    /// The type of chat the app was opened from.
    pub fn chat_type(&self) -> Option<&ChatType> {
        self.chat_type.as_ref()
    }

    /// Global identifier of the chat the app was opened from, as a string (it may exceed 2^53).
    pub fn chat_instance(&self) -> Option<&str> {
        self.get("chat_instance")
    }

    /// The `startapp` parameter of the link that opened the app.
    pub fn start_param(&self) -> Option<&str> {
        self.get("start_param")
    }

    /// Session id for `answerWebAppQuery`.
    pub fn query_id(&self) -> Option<&str> {
        self.get("query_id")
    }

    /// Seconds after which a message may be sent via `answerWebAppQuery`.
    pub fn can_send_after(&self) -> Option<u64> {
        self.can_send_after
    }

    /// The Ed25519 `signature` field, if Telegram sent one.
    pub fn signature(&self) -> Option<&str> {
        self.get("signature")
    }

    /// Any field by key, value as decoded (the raw JSON for `user`, `chat`, …); unknown keys
    /// are kept here.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key)
    }

    /// All fields except `hash`, sorted by key.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter()
    }
}

impl fmt::Debug for VerifiedInitData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedInitData")
            .field("auth_date", &self.auth_date)
            .field("user_id", &self.user.as_ref().map(|u| u.id))
            .field("keys", &self.fields.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}
