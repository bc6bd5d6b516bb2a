package odradek

/*
#include "odradek.h"
*/
import "C"

import "fmt"

// ErrorClass says whether, and how, a failed operation can be tried again.
type ErrorClass int32

const (
	// ClassRetriable: the same operation may succeed later.
	ClassRetriable ErrorClass = C.ODRADEK_CLASS_RETRIABLE
	// ClassPermanent: this request can never succeed as sent; the client stays usable.
	ClassPermanent ErrorClass = C.ODRADEK_CLASS_PERMANENT
	// ClassAbortable: the current transaction must be aborted.
	ClassAbortable ErrorClass = C.ODRADEK_CLASS_ABORTABLE
	// ClassFatal: the client cannot continue.
	ClassFatal ErrorClass = C.ODRADEK_CLASS_FATAL
)

func (c ErrorClass) String() string {
	switch c {
	case ClassRetriable:
		return "retriable"
	case ClassPermanent:
		return "permanent"
	case ClassAbortable:
		return "abortable"
	default:
		return "fatal"
	}
}

// Error is every error the client returns (context errors aside): the Kafka error code for
// broker errors, librdkafka's negative code for local ones, and the stable name of either.
//
// Use errors.Is with the Err* values below (they match by code), or errors.As to read the
// fields:
//
//	var kerr *odradek.Error
//	if errors.As(err, &kerr) && kerr.Retriable { ... }
type Error struct {
	Code      int32      // Kafka's code (e.g. 36), or librdkafka's local code (e.g. -186)
	Name      string     // "TOPIC_ALREADY_EXISTS", "_INVALID_CONFIG", ...
	Message   string     // what happened; config errors name the key
	Class     ErrorClass // retriable, permanent, abortable, fatal
	Retriable bool       // whether retrying the same operation can succeed
	Topic     string     // the topic the error is about; "" when not known
	Partition int32      // the partition the error is about; -1 when not known
	Broker    string     // the broker ("host:port" or "broker N") it came from; "" when not known
}

func (e *Error) Error() string {
	return fmt.Sprintf("odradek: %s: %s", e.Name, e.Message)
}

// Is reports whether target is an *Error with the same code (so errors.Is(err,
// odradek.ErrTopicAlreadyExists) works whatever the message).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// IsFatal reports whether the client that returned the error can no longer be used (a
// fenced transactional producer, for one).
func (e *Error) IsFatal() bool { return e.Class == ClassFatal }

// TxnRequiresAbort reports whether the open transaction must be aborted (AbortTransaction);
// the producer stays usable.
func (e *Error) TxnRequiresAbort() bool { return e.Class == ClassAbortable }

// Local error codes are the core's, through the C ABI header (rules_test.go checks them).
const (
	errIntr      = C.ODRADEK_ERR_INTR
	codeTimedOut = C.ODRADEK_ERR_TIMED_OUT
)

// Errors to compare with errors.Is (by code).
var (
	ErrUnknownTopicOrPartition = &Error{Code: 3, Name: "UNKNOWN_TOPIC_OR_PARTITION"}
	ErrMessageTooLarge         = &Error{Code: 10, Name: "MESSAGE_TOO_LARGE"}
	ErrTopicAlreadyExists      = &Error{Code: 36, Name: "TOPIC_ALREADY_EXISTS"}
	ErrInvalidConfig           = &Error{Code: C.ODRADEK_ERR_INVALID_CONFIG, Name: "_INVALID_CONFIG"}
	ErrTimedOut                = &Error{Code: codeTimedOut, Name: "_TIMED_OUT"}
	ErrQueueFull               = &Error{Code: C.ODRADEK_ERR_QUEUE_FULL, Name: "_QUEUE_FULL"}
	ErrClosed                  = &Error{Code: C.ODRADEK_ERR_DESTROY, Name: "_DESTROY"}
	ErrTransport               = &Error{Code: C.ODRADEK_ERR_TRANSPORT, Name: "_TRANSPORT"}
	// ErrAuthentication: SASL failed (wrong credentials, a token refused); fatal.
	ErrAuthentication = &Error{Code: C.ODRADEK_ERR_AUTHENTICATION, Name: "_AUTHENTICATION"}
	// ErrSSL: the TLS handshake failed (a certificate not trusted, expired, another name); fatal.
	ErrSSL = &Error{Code: C.ODRADEK_ERR_SSL, Name: "_SSL"}
	// ErrProducerFenced: another producer with the same transactional.id took over (fatal).
	ErrProducerFenced = &Error{Code: 90, Name: "PRODUCER_FENCED"}
)
