package botflow_test

// The client's own behaviour against a real server: the typed error, the
// default deadline, leaving RunFlow early, TLS and the bearer token.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	botflow "github.com/botflow/botflow/clients/go"
	botflowv1 "github.com/botflow/botflow/clients/go/botflow/v1"
	"github.com/botflow/botflow/clients/go/internal/testserver"
)

func fakeAction(options map[string]string) *botflowv1.ExecuteActionRequest {
	return &botflowv1.ExecuteActionRequest{Action: &botflowv1.Action{Kind: &botflowv1.Action_Openai{
		Openai: &botflowv1.OpenAIAction{
			Token: "sk-test", Prompt: "Be brief.", History: botflowv1.HistoryMode_HISTORY_MODE_PROMPT_ONLY,
			Provider: "fake", AnswerVariable: "answer", ProviderOptions: options,
		},
	}}}
}

func startClient(t *testing.T, args, env []string, opts botflow.Options) *botflow.Client {
	t.Helper()
	server, err := testserver.Start(args, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(server.Stop)
	client, err := botflow.New(server.Target, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func TestClient(t *testing.T) {
	// The default deadline is short so a slow fake answer outlives it.
	client := startClient(t, nil, nil, botflow.Options{Timeout: 300 * time.Millisecond})

	t.Run("invalid request is typed, paths snake_case", func(t *testing.T) {
		req := fakeAction(nil)
		req.GetAction().GetOpenai().AnswerVariable = " "
		_, err := client.ExecuteAction(context.Background(), req)
		var invalid *botflow.InvalidRequestError
		if !errors.As(err, &invalid) {
			t.Fatalf("expected *InvalidRequestError, got %T %v", err, err)
		}
		if _, ok := invalid.FieldViolations["action.openai.answer_variable"]; !ok {
			t.Fatalf("violations %v", invalid.FieldViolations)
		}
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("status.Code = %v", status.Code(err))
		}
	})

	t.Run("default deadline applies", func(t *testing.T) {
		// The server bounds the provider by the call's deadline: the action
		// fails as a timeout instead of waiting for the 5 s answer.
		resp, err := client.ExecuteAction(context.Background(), fakeAction(map[string]string{"latency_ms": "5000"}))
		if status.Code(err) != codes.DeadlineExceeded && resp.GetResult().GetErrorKind() != botflowv1.ErrorKind_ERROR_KIND_TIMEOUT {
			t.Fatalf("expected a timeout, got %v %v", resp, err)
		}
	})

	t.Run("a context deadline wins", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := client.ExecuteAction(ctx, fakeAction(map[string]string{"latency_ms": "500", "reply": "hi"}))
		if err != nil || resp.GetResult().GetAnswer() != "hi" {
			t.Fatalf("resp %v err %v", resp, err)
		}
	})

	t.Run("RunFlow iterates and stops early", func(t *testing.T) {
		flow := &botflowv1.Flow{StartBlockId: "a", Blocks: []*botflowv1.Block{
			{Id: "a", Next: "b", Kind: &botflowv1.Block_SendMessage{SendMessage: &botflowv1.SendMessageBlock{Text: "one"}}},
			{Id: "b", Kind: &botflowv1.Block_SendMessage{SendMessage: &botflowv1.SendMessageBlock{Text: "two"}}},
		}}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		seen := 0
		for event, err := range client.RunFlow(ctx, &botflowv1.RunFlowRequest{Flow: flow}) {
			if err != nil {
				t.Fatal(err)
			}
			seen++
			if event.GetMessageSent().GetText() != "one" {
				t.Fatalf("first event %v", event)
			}
			break
		}
		events, err := client.RunFlowToFinish(ctx, &botflowv1.RunFlowRequest{Flow: flow})
		if seen != 1 || err != nil || len(events) != 3 || events[2].GetFinished() == nil {
			t.Fatalf("seen %d, events %v, err %v", seen, events, err)
		}
	})
}

// selfSigned writes a certificate for 127.0.0.1 and its key; returns their
// paths and a pool trusting it.
func selfSigned(t *testing.T) (string, string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "botflow test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certPath, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return certPath, keyPath, pool
}

func TestTLSAndToken(t *testing.T) {
	cert, key, pool := selfSigned(t)
	args := []string{"--tls-cert", cert, "--tls-key", key}
	env := []string{"BOTFLOW_AUTH_TOKEN=s3cret"}
	tlsConfig := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	client := startClient(t, args, env, botflow.Options{TLS: tlsConfig, Token: "s3cret"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := client.ExecuteAction(ctx, fakeAction(map[string]string{"reply": "over tls"}))
	if err != nil || resp.GetResult().GetAnswer() != "over tls" {
		t.Fatalf("resp %v err %v", resp, err)
	}
	wrong, err := botflow.New(client.Target(), botflow.Options{TLS: tlsConfig, Token: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()
	if _, err := wrong.ExecuteAction(ctx, fakeAction(nil)); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("expected UNAUTHENTICATED with a wrong token, got %v", err)
	}
}
