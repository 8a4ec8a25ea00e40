package botflow_test

// Replays every contract vector (<repo>/tests/contract/vectors/*.json)
// through the Go client against a real botflow server, with the semantics of
// the Python runner (tests/contract/test_vectors.py): requests and responses
// in canonical JSON (protojson), subset matching, exact field-violation sets.

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	botflow "github.com/botflow/botflow/clients/go"
	botflowv1 "github.com/botflow/botflow/clients/go/botflow/v1"
	"github.com/botflow/botflow/clients/go/internal/matching"
	"github.com/botflow/botflow/clients/go/internal/testserver"
)

// callTimeout is each vector call's deadline, as in the other runners.
const callTimeout = 30 * time.Second

type vector struct {
	Description string          `json:"description"`
	RPC         string          `json:"rpc"`
	Request     json.RawMessage `json:"request"`
	Expect      map[string]any  `json:"expect"`
}

// codeNames are the canonical status names the vectors use.
var codeNames = map[codes.Code]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN",
	codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED",
	codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED",
	codes.OutOfRange: "OUT_OF_RANGE", codes.Unimplemented: "UNIMPLEMENTED",
	codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE", codes.DataLoss: "DATA_LOSS",
	codes.Unauthenticated: "UNAUTHENTICATED",
}

func vectorFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testserver.Repo(), "tests", "contract", "vectors", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if len(files) < 3 {
		t.Fatalf("only %d vectors found", len(files))
	}
	return files
}

func loadVector(t *testing.T, file string) vector {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var v vector
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if v.RPC != "ExecuteAction" && v.RPC != "RunFlow" {
		t.Fatalf("rpc must be ExecuteAction or RunFlow, got %q", v.RPC)
	}
	if len(v.Expect) != 1 {
		t.Fatalf("expect holds exactly one of response, events, error: %v", v.Expect)
	}
	return v
}

// canonical is a message in canonical JSON, decoded for matching.
func canonical(t *testing.T, m proto.Message) any {
	t.Helper()
	raw, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// call parses the request (an unknown key fails here, before anything is
// sent, as ParseDict does) and returns the messages in canonical JSON.
func call(t *testing.T, client *botflow.Client, v vector) (any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if v.RPC == "ExecuteAction" {
		req := &botflowv1.ExecuteActionRequest{}
		if err := protojson.Unmarshal(v.Request, req); err != nil {
			t.Fatalf("bad vector request: %v", err)
		}
		resp, err := client.ExecuteAction(ctx, req)
		if err != nil {
			return nil, err
		}
		return canonical(t, resp), nil
	}
	req := &botflowv1.RunFlowRequest{}
	if err := protojson.Unmarshal(v.Request, req); err != nil {
		t.Fatalf("bad vector request: %v", err)
	}
	events, err := client.RunFlowToFinish(ctx, req)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(events))
	for i, event := range events {
		out[i] = canonical(t, event)
	}
	return out, nil
}

func checkError(t *testing.T, expected map[string]any, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected %v, the call succeeded", expected["code"])
	}
	code := status.Code(err)
	if codeNames[code] != expected["code"] {
		t.Fatalf("expected %v, got %v: %v", expected["code"], codeNames[code], err)
	}
	var invalid *botflow.InvalidRequestError
	if code == codes.InvalidArgument && !errors.As(err, &invalid) {
		t.Fatalf("not an *InvalidRequestError: %T %v", err, err)
	}
	want := []string{}
	if paths, ok := expected["fieldViolations"].([]any); ok {
		for _, p := range paths {
			want = append(want, p.(string))
		}
	}
	got := []string{}
	for path := range botflow.FieldViolations(err) {
		got = append(got, path)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		t.Fatalf("field violations: expected %v, got %v", want, got)
	}
}

func TestVectors(t *testing.T) {
	server, err := testserver.Start(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Stop()
	client, err := botflow.New(server.Target, botflow.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for _, file := range vectorFiles(t) {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			v := loadVector(t, file)
			actual, err := call(t, client, v)
			if expected, ok := v.Expect["error"].(map[string]any); ok {
				checkError(t, expected, err)
				return
			}
			if err != nil {
				t.Fatalf("call failed: %v", err)
			}
			expected, ok := v.Expect["events"]
			if (v.RPC == "RunFlow") != ok {
				t.Fatal("events go with RunFlow, response with ExecuteAction")
			}
			if !ok {
				expected = v.Expect["response"]
			}
			if problems := matching.Mismatches(expected, actual, "$"); len(problems) > 0 {
				t.Fatal(strings.Join(problems, "\n"))
			}
		})
	}
}
