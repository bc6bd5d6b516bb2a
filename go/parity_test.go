package odradek

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestParityManifest: every name tests/parity/manifest.json lists for Go is a method of the
// named type, so the README's parity table never claims what the binding lacks.
func TestParityManifest(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "tests", "parity", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Capabilities []map[string]json.RawMessage `json:"capabilities"`
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	types := map[string]reflect.Type{
		"Producer": reflect.TypeOf(&Producer{}),
		"Consumer": reflect.TypeOf(&Consumer{}),
		"Admin":    reflect.TypeOf(&Admin{}),

		"ShareConsumer": reflect.TypeOf(&ShareConsumer{}),
		"TestCluster":   reflect.TypeOf(&TestCluster{}),
	}
	has := func(name string) bool {
		typ, method, ok := strings.Cut(name, ".")
		tt, known := types[typ]
		if !ok || !known {
			return false
		}
		_, found := tt.MethodByName(method)
		return found
	}
	if has("Consumer.Teleport") {
		t.Fatal("the check finds a method that does not exist")
	}
	checked := 0
	for _, c := range manifest.Capabilities {
		var names []string
		if json.Unmarshal(c["go"], &names) != nil {
			continue // {"missing": ...}: a gap the table names
		}
		for _, n := range names {
			checked++
			if !has(n) {
				t.Errorf("%s: the manifest lists %s, which the Go binding lacks", c["name"], n)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no Go names in the manifest")
	}
}
