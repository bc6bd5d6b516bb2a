package odradek

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a slog.Handler that keeps every record at or above its level.
type recorder struct {
	level slog.Level
	mu    sync.Mutex
	seen  []slog.Record
}

func (r *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, rec)
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func (r *recorder) find(f func(slog.Record) bool) (slog.Record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.seen {
		if f(rec) {
			return rec, true
		}
	}
	return slog.Record{}, false
}

func TestSetLoggerForwardsWarningsToSlog(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := l.Addr().String()
	l.Close()

	rec := &recorder{level: slog.LevelWarn}
	if err := SetLogger(slog.New(rec)); err != nil {
		t.Fatal(err)
	}
	defer SetLogger(nil)
	p, err := NewProducer(map[string]string{"bootstrap.servers": address, "message.timeout.ms": "1000"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	go p.Produce(context.Background(), &Record{Topic: "logged", Value: []byte("v")})

	deadline := time.Now().Add(15 * time.Second)
	var found slog.Record
	var ok bool
	for time.Now().Before(deadline) && !ok {
		time.Sleep(100 * time.Millisecond)
		found, ok = rec.find(func(r slog.Record) bool {
			return strings.Contains(r.Message, "cannot connect") && strings.Contains(r.Message, address)
		})
	}
	if !ok {
		t.Fatalf("no 'cannot connect' record naming %s", address)
	}
	if found.Level != slog.LevelWarn {
		t.Errorf("level %v, want WARN", found.Level)
	}
	target := ""
	found.Attrs(func(a slog.Attr) bool {
		if a.Key == "target" {
			target = a.Value.String()
		}
		return true
	})
	if !strings.HasPrefix(target, "odradek") {
		t.Errorf("target attribute %q", target)
	}
	if _, below := rec.find(func(r slog.Record) bool { return r.Level < slog.LevelWarn }); below {
		t.Error("a record below WARN reached a WARN handler")
	}
}
