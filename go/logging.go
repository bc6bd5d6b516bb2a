package odradek

/*
#include <stdint.h>
#include "odradek.h"

OdradekError *odradek_go_set_log(int32_t level, uintptr_t ctx);
*/
import "C"

import (
	"context"
	"log/slog"
	"runtime/cgo"
	"sync"
)

// LevelTrace is below slog.LevelDebug: every request the client sends.
const LevelTrace = slog.LevelDebug - 4

var logMu sync.Mutex

// SetLogger sends the library's log records (a broker that cannot be reached, a failed
// commit; at slog.LevelDebug the protocol's decisions, at LevelTrace every request) to logger,
// process-wide, at the most detailed level its handler enables; each record has a "target"
// attribute naming the library module. Records are handed over on the library's own log
// thread; a slow handler makes the library drop records (the next one says how many), never
// slows a client. nil stops forwarding. Meant to be called once, at start-up: every call keeps
// a small handle alive for the life of the process.
func SetLogger(logger *slog.Logger) error {
	logMu.Lock()
	defer logMu.Unlock()
	if logger == nil {
		return takeError(C.odradek_go_set_log(0, 0))
	}
	levels := []struct {
		slog   slog.Level
		native C.int32_t
	}{{LevelTrace, C.ODRADEK_LOG_TRACE}, {slog.LevelDebug, C.ODRADEK_LOG_DEBUG},
		{slog.LevelInfo, C.ODRADEK_LOG_INFO}, {slog.LevelWarn, C.ODRADEK_LOG_WARN},
		{slog.LevelError, C.ODRADEK_LOG_ERROR}}
	for _, l := range levels {
		if logger.Enabled(context.Background(), l.slog) {
			// The handle is never deleted: the log thread may still be running the previous
			// logger when a new one is set.
			h := cgo.NewHandle(logger)
			return takeError(C.odradek_go_set_log(l.native, C.uintptr_t(h)))
		}
	}
	return takeError(C.odradek_go_set_log(0, 0))
}

//export odradekGoLog
func odradekGoLog(ctx C.uintptr_t, level C.int32_t, target *C.char, message *C.char) {
	logger := cgo.Handle(ctx).Value().(*slog.Logger)
	lvl := slog.LevelError
	switch level {
	case C.ODRADEK_LOG_WARN:
		lvl = slog.LevelWarn
	case C.ODRADEK_LOG_INFO:
		lvl = slog.LevelInfo
	case C.ODRADEK_LOG_DEBUG:
		lvl = slog.LevelDebug
	case C.ODRADEK_LOG_TRACE:
		lvl = LevelTrace
	}
	logger.Log(context.Background(), lvl, C.GoString(message), "target", C.GoString(target))
}
