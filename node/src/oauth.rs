//! OAUTHBEARER tokens from a JavaScript function (`oauth_cb` in a client's config, see
//! `index.js`). The core asks on its runtime; this calls the JS side through a threadsafe
//! function with a request id, and `index.js` awaits the user's (possibly async) function and
//! answers with `tokenDone(id, token, error)`, which completes the request. The JS thread never
//! blocks and the core's runtime only awaits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use odradek::config::Config;
use odradek::protocol::sasl::{Secret, oauthbearer::Token};
use odradek::security::TokenProvider;
use tokio::sync::oneshot;

/// What `oauth_cb` returns (or resolves to): the token, when it expires (ms since the epoch),
/// the principal it names and SASL extensions.
#[napi(object, object_to_js = false)]
pub struct OAuthBearerToken {
    pub value: String,
    pub lifetime: f64,
    pub principal: Option<String>,
    pub extensions: Option<crate::config::ConfigMap>,
}

type TokenFn = ThreadsafeFunction<TokenRequest, (), TokenRequest, Status, false, true>;

/// One request to the JS side: its id and the client's `sasl.oauthbearer.config`.
#[napi(object)]
pub struct TokenRequest {
    pub id: u32,
    pub config: String,
}

type Answer = std::result::Result<Token, String>;

/// Requests the JS side has not answered yet, by id.
fn pending() -> &'static Mutex<HashMap<u32, oneshot::Sender<Answer>>> {
    static PENDING: OnceLock<Mutex<HashMap<u32, oneshot::Sender<Answer>>>> = OnceLock::new();
    PENDING.get_or_init(Mutex::default)
}

/// Sets `config`'s token provider to call `callback` (a weak threadsafe function: it does not
/// keep the process alive).
pub(crate) fn install(
    config: &mut Config,
    callback: Option<Function<TokenRequest, ()>>,
) -> Result<()> {
    let Some(callback) = callback else {
        return Ok(());
    };
    let tsfn: Arc<TokenFn> = Arc::new(
        callback
            .build_threadsafe_function()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?,
    );
    let oauth_config = config
        .get("sasl.oauthbearer.config")
        .unwrap_or("")
        .to_string();
    config.set_oauthbearer_token_provider(TokenProvider::new(move || {
        let (tsfn, oauth_config) = (tsfn.clone(), oauth_config.clone());
        async move {
            static NEXT: AtomicU32 = AtomicU32::new(1);
            let id = NEXT.fetch_add(1, Ordering::Relaxed);
            let (tx, rx) = oneshot::channel();
            pending()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id, tx);
            let request = TokenRequest {
                id,
                config: oauth_config,
            };
            if tsfn.call(request, ThreadsafeFunctionCallMode::NonBlocking) != Status::Ok {
                pending()
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                return Err("cannot call oauth_cb: the JavaScript environment is gone".to_string());
            }
            rx.await
                .map_err(|_| "oauth_cb never answered".to_string())?
        }
    }));
    Ok(())
}

/// The JS side's answer to token request `id`: a token, or the error oauth_cb threw.
#[napi]
pub fn token_done(id: u32, token: Option<OAuthBearerToken>, error: Option<String>) {
    let Some(tx) = pending()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&id)
    else {
        return;
    };
    let answer = match (token, error) {
        (Some(t), None) => match crate::config::settings(t.extensions.unwrap_or_default()) {
            Ok(extensions) => Ok(Token {
                value: Secret::new(t.value),
                principal: t.principal.unwrap_or_default(),
                expires_at_ms: t.lifetime as i64,
                extensions,
            }),
            Err(e) => Err(format!("oauth_cb extensions: {e}")),
        },
        (_, Some(e)) => Err(e),
        (None, None) => Err("oauth_cb returned no token".to_string()),
    };
    let _ = tx.send(answer);
}
