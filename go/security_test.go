package odradek

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// unsecuredJWT is an unsecured JWT (alg none) naming principal: the embedded broker's
// OAUTHBEARER validator accepts it.
func unsecuredJWT(principal string, expiry time.Time) string {
	part := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return part(map[string]string{"alg": "none"}) + "." +
		part(map[string]any{"sub": principal, "exp": expiry.Unix()}) + "."
}

// The SASL_SSL test broker with SCRAM (ClientConfig) and OAUTHBEARER through a TokenProvider:
// the provider gets sasl.oauthbearer.config and its token logs in; its error fails the login
// with ErrAuthentication carrying its text; a wrong password is a fatal ErrAuthentication.
func TestSaslSslBrokerAndTokenProvider(t *testing.T) {
	b, err := StartSaslSslTestBroker("alice", "alice-secret",
		map[string]string{"sasl.enabled.mechanisms": "SCRAM-SHA-512,OAUTHBEARER"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !strings.Contains(b.CAPEM(), "BEGIN CERTIFICATE") {
		t.Fatalf("CAPEM: %q", b.CAPEM())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := must(NewAdmin(b.ClientConfig()))
	if err := admin.CreateTopics(ctx, TopicSpec{Name: "go-secure", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	admin.Close()

	wrong := b.ClientConfig()
	wrong["sasl.password"] = "wrong-password"
	admin = must(NewAdmin(wrong))
	_, err = admin.ListTopics(ctx)
	admin.Close()
	var kerr *Error
	if !errors.Is(err, ErrAuthentication) || !errors.As(err, &kerr) || kerr.Class != ClassFatal ||
		strings.Contains(err.Error(), "wrong-password") {
		t.Fatalf("wrong password: %v", err)
	}

	oauth := map[string]string{
		"bootstrap.servers": b.Bootstrap(), "security.protocol": "SASL_SSL", "ssl.ca.pem": b.CAPEM(),
		"sasl.mechanism": "OAUTHBEARER", "sasl.oauthbearer.config": "scope=go-test",
	}
	var mu sync.Mutex
	var configs []string
	provider := func(config string) (OAuthBearerToken, error) {
		mu.Lock()
		configs = append(configs, config)
		mu.Unlock()
		expiry := time.Now().Add(10 * time.Minute)
		return OAuthBearerToken{Value: unsecuredJWT("alice", expiry), Expiry: expiry,
			Principal: "alice", Extensions: map[string]string{"traceid": "go"}}, nil
	}
	p := must(NewProducer(oauth, WithTokenProvider(provider)))
	if _, err := p.Produce(ctx, &Record{Topic: "go-secure", Value: []byte("via a token")}); err != nil {
		t.Fatal(err)
	}
	p.Close()
	mu.Lock()
	if len(configs) == 0 || configs[0] != "scope=go-test" {
		t.Fatalf("provider calls: %q", configs)
	}
	mu.Unlock()

	refusing := func(string) (OAuthBearerToken, error) {
		return OAuthBearerToken{}, errors.New("no token for you")
	}
	c := must(NewConsumer(oauth, WithTokenProvider(refusing)))
	defer c.Close()
	if err := c.Assign(ctx, []TopicPartition{{Topic: "go-secure", Partition: 0, Offset: OffsetBeginning}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Poll(ctx)
	if !errors.Is(err, ErrAuthentication) || !strings.Contains(err.Error(), "no token for you") {
		t.Fatalf("refusing provider: %v", err)
	}
}
