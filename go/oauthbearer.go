package odradek

/*
#include <stdlib.h>
#include <stdint.h>
#include "odradek.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime/cgo"
	"time"
	"unsafe"
)

// OAuthBearerToken is what a TokenProvider returns for SASL/OAUTHBEARER: the bearer token (a
// compact JWT), when it expires, the principal it names, and SASL extensions to send with it.
type OAuthBearerToken struct {
	Value      string
	Expiry     time.Time
	Principal  string
	Extensions map[string]string
}

// TokenProvider supplies OAUTHBEARER tokens (sasl.mechanism=OAUTHBEARER). It is called with the
// client's "sasl.oauthbearer.config" for the first login and again before each token expires
// (re-authentication), on a library thread; it may block. An error fails the login with
// ErrAuthentication carrying the error's text (which must hold no secret).
type TokenProvider func(oauthbearerConfig string) (OAuthBearerToken, error)

// Option configures a client beyond its properties (NewProducer, NewConsumer, NewAdmin).
type Option func(*clientOptions)

type clientOptions struct {
	tokenProvider TokenProvider
}

// WithTokenProvider sets the client's OAUTHBEARER token provider.
func WithTokenProvider(provider TokenProvider) Option {
	return func(o *clientOptions) { o.tokenProvider = provider }
}

// tokenHandle is the cgo.Handle of the options' token provider (0: none); the client deletes it
// after freeing its native handle, after which the library calls it no more.
func tokenHandle(opts []Option) cgo.Handle {
	var o clientOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.tokenProvider == nil {
		return 0
	}
	return cgo.NewHandle(o.tokenProvider)
}

func deleteHandle(h *cgo.Handle) {
	if *h != 0 {
		h.Delete()
		*h = 0
	}
}

//export odradekGoToken
func odradekGoToken(ctx C.uintptr_t, config *C.char, result *C.OdradekTokenResult) {
	provider := cgo.Handle(ctx).Value().(TokenProvider)
	token, err := callTokenProvider(provider, C.GoString(config))
	if err == nil {
		err = setToken(result, token)
	}
	if err != nil {
		msg := C.CString(err.Error())
		defer C.free(unsafe.Pointer(msg))
		C.odradek_error_free(C.odradek_token_fail(result, msg))
	}
}

// callTokenProvider runs the provider, turning a panic into an error (a panic must not unwind
// into the library's thread).
func callTokenProvider(p TokenProvider, config string) (token OAuthBearerToken, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the token provider panicked: %v", r)
		}
	}()
	token, err = p(config)
	if err == nil && token.Expiry.IsZero() {
		err = errors.New("the token provider returned a token without Expiry")
	}
	return token, err
}

func setToken(result *C.OdradekTokenResult, t OAuthBearerToken) error {
	value, principal := C.CString(t.Value), C.CString(t.Principal)
	defer C.free(unsafe.Pointer(value))
	defer C.free(unsafe.Pointer(principal))
	if err := takeError(C.odradek_token_set(result, value, C.int64_t(t.Expiry.UnixMilli()), principal)); err != nil {
		return err
	}
	for k, v := range t.Extensions {
		ck, cv := C.CString(k), C.CString(v)
		err := takeError(C.odradek_token_add_extension(result, ck, cv))
		C.free(unsafe.Pointer(ck))
		C.free(unsafe.Pointer(cv))
		if err != nil {
			return err
		}
	}
	return nil
}
