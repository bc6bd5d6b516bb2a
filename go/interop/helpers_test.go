package interop

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/odradek/odradek/go"
)

var broker *odradek.TestBroker

func TestMain(m *testing.M) {
	var err error
	broker, err = odradek.StartTestBroker(map[string]string{"num.partitions": "1"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start test broker:", err)
		os.Exit(1)
	}
	code := m.Run()
	broker.Close()
	os.Exit(code)
}

func cfg() map[string]string {
	return map[string]string{"bootstrap.servers": broker.Bootstrap()}
}

// must fails the test (by panicking, which go test reports with the stack) on an error.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func createTopic(t *testing.T, name string, partitions int32) {
	t.Helper()
	admin := must(odradek.NewAdmin(cfg()))
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.CreateTopics(ctx, odradek.TopicSpec{Name: name, Partitions: partitions}); err != nil {
		t.Fatal(err)
	}
}

func consumeN(t *testing.T, c *odradek.Consumer, n int, timeout time.Duration) []*odradek.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*odradek.Record
	for len(out) < n {
		batch, err := c.PollBatch(ctx, n-len(out))
		if err != nil {
			t.Fatalf("after %d of %d records: %v", len(out), n, err)
		}
		out = append(out, batch...)
	}
	return out
}
