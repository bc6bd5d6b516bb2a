package odradek

import (
	"os"
	"regexp"
	"strconv"
	"testing"
)

// The small rules (special offsets, error classes, local error codes) are the core's, published
// in the C ABI header; the Go constants are cgo references to it. This fails when a Go constant
// stops being the header's value (someone retyped one) or the header drifts.
func TestRulesAreTheCores(t *testing.T) {
	text, err := os.ReadFile("../bindings/c/include/odradek.h")
	if err != nil {
		t.Fatal(err)
	}
	defines := map[string]int64{}
	for _, m := range regexp.MustCompile(`(?m)^#define (ODRADEK_\w+) (-?\d+)$`).FindAllStringSubmatch(string(text), -1) {
		v, _ := strconv.ParseInt(m[2], 10, 64)
		defines[m[1]] = v
	}
	want := map[string]int64{
		"ODRADEK_OFFSET_BEGINNING": OffsetBeginning,
		"ODRADEK_OFFSET_END":       OffsetEnd,
		"ODRADEK_OFFSET_STORED":    OffsetStored,
		"ODRADEK_OFFSET_INVALID":   OffsetInvalid,
		"ODRADEK_CLASS_RETRIABLE":  int64(ClassRetriable),
		"ODRADEK_CLASS_PERMANENT":  int64(ClassPermanent),
		"ODRADEK_CLASS_ABORTABLE":  int64(ClassAbortable),
		"ODRADEK_CLASS_FATAL":      int64(ClassFatal),
		"ODRADEK_ERR_INTR":         errIntr,
	}
	for _, e := range []*Error{ErrInvalidConfig, ErrTimedOut, ErrQueueFull, ErrClosed, ErrTransport, ErrAuthentication, ErrSSL} {
		want["ODRADEK_ERR"+e.Name] = int64(e.Code)
	}
	for name, v := range want {
		got, ok := defines[name]
		if !ok || got != v {
			t.Errorf("%s: Go has %d, the header %d (defined: %v)", name, v, got, ok)
		}
	}
}
