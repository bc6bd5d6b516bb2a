// Package kgo only pins franz-go's module (and, through go.sum, its dependencies) so that
// `go test github.com/twmb/franz-go/pkg/kgo` runs that version's integration suite against our
// broker (scripts/test.d/65-kgo.sh).
package kgo

import _ "github.com/twmb/franz-go/pkg/kgo"
