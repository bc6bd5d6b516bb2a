package main

// Security settings from the environment, so the same program runs against secured listeners
// (scripts/test.d/47-security-broker.sh):
//
//	FRANZ_TLS_CA      PEM file of the CA that signs the broker's certificate (turns TLS on)
//	FRANZ_TLS_CERT    client certificate (PEM) for mutual TLS, with FRANZ_TLS_KEY
//	FRANZ_SASL        PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, with FRANZ_USER and FRANZ_PASSWORD

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

func securityOpts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if ca := os.Getenv("FRANZ_TLS_CA"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", ca)
		}
		cfg := &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
		if cert := os.Getenv("FRANZ_TLS_CERT"); cert != "" {
			pair, err := tls.LoadX509KeyPair(cert, os.Getenv("FRANZ_TLS_KEY"))
			if err != nil {
				return nil, err
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	user, pass := os.Getenv("FRANZ_USER"), os.Getenv("FRANZ_PASSWORD")
	switch m := os.Getenv("FRANZ_SASL"); m {
	case "":
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()))
	default:
		return nil, fmt.Errorf("FRANZ_SASL=%s: expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", m)
	}
	return opts, nil
}
