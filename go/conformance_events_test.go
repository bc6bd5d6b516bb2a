package odradek

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"time"
)

// The background-failure ops of the conformance scenarios (tests/conformance/README.md):
// stop_broker, expect_error_event (each client's OnError handler, set when the runner made the
// client) and expect_log (the slog bridge, SetLogger, from stop_broker on).

// runnerEvents is what these ops need of a scenario's runner.
type runnerEvents struct {
	broker *TestBroker
	errors map[string]*errorLog // per client name
	logs   *recorder            // nil until stop_broker
}

func init() {
	for op, keys := range map[string][]string{
		"stop_broker":        {},
		"expect_error_event": {"client", "names", "retriable", "timeout_ms"},
		"expect_log":         {"level", "timeout_ms"},
	} {
		allowedKeys[op] = keys
	}
	adminOps["stop_broker"] = (*runner).stopBroker
	adminOps["expect_error_event"] = (*runner).expectErrorEvent
	adminOps["expect_log"] = (*runner).expectLog
}

// watchErrors records the background errors of the client made under name.
func (r *runner) watchErrors(name string, onError func(ErrorHandler) error) error {
	log := &errorLog{}
	r.events.errors[name] = log
	return onError(log.handle)
}

// endEvents stops the log capture at the end of a scenario.
func (r *runner) endEvents() {
	if r.events.logs != nil {
		_ = SetLogger(nil)
	}
}

func (r *runner) stopBroker(_ context.Context, _ map[string]json.RawMessage) error {
	if r.events.logs == nil {
		r.events.logs = &recorder{level: slog.LevelWarn}
		if err := SetLogger(slog.New(r.events.logs)); err != nil {
			return err
		}
	}
	if r.events.broker == nil {
		return mismatch("stop_broker in a scenario without a single broker")
	}
	return r.events.broker.Close()
}

func (r *runner) expectErrorEvent(_ context.Context, step map[string]json.RawMessage) error {
	name, err := get[string](step, "client")
	if err != nil {
		return err
	}
	log, ok := r.events.errors[name]
	if !ok {
		return mismatch("no client %q", name)
	}
	names, err := get[[]string](step, "names")
	if err != nil {
		return err
	}
	ms, err := get[int](step, "timeout_ms")
	if err != nil {
		return err
	}
	e, ok := log.waitFor(time.Duration(ms)*time.Millisecond, names...)
	if !ok {
		log.mu.Lock()
		defer log.mu.Unlock()
		return mismatch("no error event named %v within %d ms; received %v", names, ms, log.seen)
	}
	if raw, given := step["retriable"]; given {
		var want bool
		if err := json.Unmarshal(raw, &want); err != nil {
			return mismatch("retriable: %v", err)
		}
		if e.Retriable != want {
			return mismatch("error event %s: expected retriable=%v, got %v", e.Name, want, e.Retriable)
		}
	}
	return nil
}

func (r *runner) expectLog(_ context.Context, step map[string]json.RawMessage) error {
	level, err := get[string](step, "level")
	if err != nil {
		return err
	}
	least, known := map[string]slog.Level{"warn": slog.LevelWarn, "error": slog.LevelError}[level]
	if !known {
		return mismatch("level %q is not warn or error", level)
	}
	ms, err := get[int](step, "timeout_ms")
	if err != nil {
		return err
	}
	if r.events.logs == nil {
		return mismatch("expect_log before stop_broker: no log capture")
	}
	deadline := time.Now().Add(time.Duration(ms) * time.Millisecond)
	for {
		if _, ok := r.events.logs.find(func(rec slog.Record) bool { return rec.Level >= least }); ok {
			return nil
		}
		if time.Now().After(deadline) {
			var seen []string
			r.events.logs.find(func(rec slog.Record) bool {
				seen = append(seen, rec.Level.String()+" "+rec.Message)
				return false
			})
			return mismatch("no log record at %s or above within %d ms; captured %s", level, ms, strings.Join(seen, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
