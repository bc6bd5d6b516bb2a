//! OAUTHBEARER token callbacks: a C function pointer and its context become the client's
//! `TokenProvider`. The callback fills an `OdradekTokenResult` through `odradek_token_set` /
//! `odradek_token_add_extension` / `odradek_token_fail` (librdkafka's set-token shape, so no
//! memory crosses the boundary); a failure becomes the login's `_AUTHENTICATION` error with the
//! callback's message.

use std::ffi::{CString, c_char, c_void};
use std::sync::{Arc, RwLock};

use odradek::config::Config;
use odradek::protocol::sasl::Secret;
use odradek::protocol::sasl::oauthbearer::Token;
use odradek::security::TokenProvider;

use crate::error::OdradekError;
use crate::util::{
    FfiResult, OdradekConfigEntry, UserContext, check_out, config_arg, guard, invalid, str_arg,
    write_out,
};

/// What a token callback hands back: a token (odradek_token_set, then any number of
/// odradek_token_add_extension) or a failure (odradek_token_fail). Valid only during the
/// callback that received it.
#[derive(Debug, Default)]
pub struct OdradekTokenResult {
    token: Option<Token>,
    failure: Option<String>,
}

/// An OAUTHBEARER token callback: called with the client's `sasl.oauthbearer.config` ("" when
/// unset) for the first login and again before each token expires (re-authentication), on a
/// library thread where blocking is allowed. It must call odradek_token_set or
/// odradek_token_fail on `result` before it returns.
pub type OdradekTokenCallback = Option<
    unsafe extern "C" fn(
        context: *mut c_void,
        oauthbearer_config: *const c_char,
        result: *mut OdradekTokenResult,
    ),
>;

/// Sets the token: `token` (the compact JWT), when it expires (ms since the Unix epoch) and the
/// principal it names (may be NULL). Replaces an earlier odradek_token_fail.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_token_set(
    result: *mut OdradekTokenResult,
    token: *const c_char,
    expires_at_ms: i64,
    principal: *const c_char,
) -> *mut OdradekError {
    guard(|| {
        let r = result_arg(result)?;
        let value = str_arg(token, "token")?;
        let principal = if principal.is_null() {
            ""
        } else {
            str_arg(principal, "principal")?
        };
        r.failure = None;
        r.token = Some(Token {
            value: Secret::new(value),
            principal: principal.to_string(),
            expires_at_ms,
            extensions: Vec::new(),
        });
        Ok(())
    })
}

/// Adds a SASL extension (RFC 7628: `key` letters only) to the token set with odradek_token_set.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_token_add_extension(
    result: *mut OdradekTokenResult,
    key: *const c_char,
    value: *const c_char,
) -> *mut OdradekError {
    guard(|| {
        let r = result_arg(result)?;
        let (k, v) = (str_arg(key, "key")?, str_arg(value, "value")?);
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphabetic()) || k == "auth" {
            return Err(invalid(format!(
                "extension key {k:?}: letters only, not \"auth\""
            )));
        }
        let token = r
            .token
            .as_mut()
            .ok_or_else(|| invalid("call odradek_token_set before adding extensions"))?;
        token.extensions.push((k.to_string(), v.to_string()));
        Ok(())
    })
}

/// Fails this login: the client reports `_AUTHENTICATION` with `message` (which must hold no
/// secret). Replaces a token set earlier.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn odradek_token_fail(
    result: *mut OdradekTokenResult,
    message: *const c_char,
) -> *mut OdradekError {
    guard(|| {
        let r = result_arg(result)?;
        r.token = None;
        r.failure = Some(str_arg(message, "message")?.to_string());
        Ok(())
    })
}

fn result_arg<'a>(result: *mut OdradekTokenResult) -> FfiResult<&'a mut OdradekTokenResult> {
    // SAFETY: a non-null result is the one the library passed to the running callback, alive
    // and used by that callback's thread only until it returns.
    unsafe { result.as_mut() }.ok_or_else(|| invalid("result is NULL"))
}

/// Closed when the client's handle is freed: no callback starts after that, and freeing waits
/// for one that is running, so the caller may release the context once free returns.
#[derive(Debug, Default)]
pub(crate) struct TokenGate {
    closed: RwLock<bool>,
}

impl TokenGate {
    pub(crate) fn close(&self) {
        *self.closed.write().unwrap_or_else(|p| p.into_inner()) = true;
    }
}

/// The body of every `odradek_*_new_with_token_callback`: checks `out`, reads the config, installs
/// the token callback, makes the handle with `make` (given the config and the token gate the
/// handle must close when freed) and hands it out as `*out`.
pub(crate) fn new_handle<H>(
    config: *const OdradekConfigEntry,
    config_len: usize,
    callback: OdradekTokenCallback,
    context: *mut c_void,
    out: *mut *mut H,
    make: impl FnOnce(&Config, Option<Arc<TokenGate>>) -> FfiResult<H>,
) -> *mut OdradekError {
    guard(|| {
        check_out(out, "out")?;
        let mut config = config_arg(config, config_len)?;
        let token_gate = install(&mut config, callback, context);
        let handle = make(&config, token_gate)?;
        write_out(out, Box::into_raw(Box::new(handle)), "out")
    })
}

/// Installs `callback` as `config`'s token provider; the returned gate must be closed when the
/// client is freed. A NULL callback installs nothing.
pub(crate) fn install(
    config: &mut Config,
    callback: OdradekTokenCallback,
    context: *mut c_void,
) -> Option<Arc<TokenGate>> {
    let callback = callback?;
    let gate = Arc::new(TokenGate::default());
    let oauth_config =
        CString::new(config.get("sasl.oauthbearer.config").unwrap_or("")).unwrap_or_default();
    let context = UserContext(context);
    let held = gate.clone();
    config.set_oauthbearer_token_provider(TokenProvider::blocking(move || {
        let closed = held.closed.read().unwrap_or_else(|p| p.into_inner());
        if *closed {
            return Err("the client was freed".to_string());
        }
        let mut result = OdradekTokenResult::default();
        // SAFETY: callback and context were given together by the caller, who keeps the context
        // valid until the client is freed; the gate's read lock keeps the free waiting while
        // the callback runs. `result` and the config string outlive the call.
        let called = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
            callback(context.ptr(), oauth_config.as_ptr(), &mut result)
        }));
        drop(closed);
        if called.is_err() {
            return Err("the token callback unwound".to_string());
        }
        match (result.token, result.failure) {
            (_, Some(message)) => Err(message),
            (Some(token), None) => Ok(token),
            (None, None) => Err(
                "the token callback returned without odradek_token_set or odradek_token_fail"
                    .to_string(),
            ),
        }
    }));
    Some(gate)
}
