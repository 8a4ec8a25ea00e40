// Package botflow is a thin client of botflow's gRPC FlowService
// (ExecuteAction, RunFlow) over the generated stubs in botflow/v1.
//
// Every call has a deadline (Options.Timeout when the context has none), an
// INVALID_ARGUMENT answer is an *InvalidRequestError carrying the server's
// field violations, and RunFlow is an iterator over the streamed events. A
// provider or webhook failure is never an error: it is data in the action's
// result (result.outcome ACTION_OUTCOME_FAILED).
package botflow

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"iter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	botflowv1 "github.com/botflow/botflow/clients/go/botflow/v1"
)

// DefaultTimeout bounds a call whose context has no deadline.
const DefaultTimeout = 60 * time.Second

// Options configure a Client; the zero value is a plaintext client with the
// default timeout.
type Options struct {
	// TLS, when set, makes the connection use TLS with this configuration
	// (RootCAs for a private CA, Certificates for mutual TLS).
	TLS *tls.Config
	// Token, when set, is sent as "authorization: Bearer <token>" on every
	// call (a server started with BOTFLOW_AUTH_TOKEN wants it).
	Token string
	// Timeout is the deadline of a call whose context has none; 0 means
	// DefaultTimeout. It bounds everything the server does for the call.
	Timeout time.Duration
	// DialOptions are added to the client's own (e.g. interceptors).
	DialOptions []grpc.DialOption
}

// Client calls one botflow server (or a load balancer in front of many).
type Client struct {
	target  string
	conn    *grpc.ClientConn
	stub    botflowv1.FlowServiceClient
	token   string
	timeout time.Duration
}

// New creates a client of target ("host:port"). The connection is made
// lazily, on the first call.
func New(target string, opts Options) (*Client, error) {
	creds := insecure.NewCredentials()
	if opts.TLS != nil {
		creds = credentials.NewTLS(opts.TLS)
	}
	dial := append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, opts.DialOptions...)
	conn, err := grpc.NewClient(target, dial...)
	if err != nil {
		return nil, err
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Client{target: target, conn: conn, stub: botflowv1.NewFlowServiceClient(conn), token: opts.Token, timeout: timeout}, nil
}

// Target is the address the client was created with.
func (c *Client) Target() string { return c.target }

// Close closes the connection; the client cannot be used afterwards.
func (c *Client) Close() error { return c.conn.Close() }

// Stub is the generated FlowService client on the same connection, for
// callers that want the raw RPCs.
func (c *Client) Stub() botflowv1.FlowServiceClient { return c.stub }

// callContext adds the default deadline (when ctx has none) and the token.
func (c *Client) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	cancel := context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	if c.token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token)
	}
	return ctx, cancel
}

// ExecuteAction runs one action. A provider failure is in the result, not
// an error; a malformed request is an *InvalidRequestError.
func (c *Client) ExecuteAction(
	ctx context.Context, req *botflowv1.ExecuteActionRequest, opts ...grpc.CallOption,
) (*botflowv1.ExecuteActionResponse, error) {
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	resp, err := c.stub.ExecuteAction(ctx, req, opts...)
	return resp, typed(err)
}

// RunFlow runs a flow and yields its events as they arrive; the last one has
// Finished. A failure is yielded once, as the error of the last pair.
// Leaving the loop early cancels the call and the server's work.
func (c *Client) RunFlow(
	ctx context.Context, req *botflowv1.RunFlowRequest, opts ...grpc.CallOption,
) iter.Seq2[*botflowv1.RunFlowResponse, error] {
	return func(yield func(*botflowv1.RunFlowResponse, error) bool) {
		ctx, cancel := c.callContext(ctx)
		defer cancel()
		stream, err := c.stub.RunFlow(ctx, req, opts...)
		if err != nil {
			yield(nil, typed(err))
			return
		}
		for {
			event, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(nil, typed(err))
				return
			}
			if !yield(event, nil) {
				return
			}
		}
	}
}

// RunFlowToFinish runs a flow and returns all its events (the last one has
// Finished), or the events before the failure and the failure.
func (c *Client) RunFlowToFinish(
	ctx context.Context, req *botflowv1.RunFlowRequest, opts ...grpc.CallOption,
) ([]*botflowv1.RunFlowResponse, error) {
	var events []*botflowv1.RunFlowResponse
	for event, err := range c.RunFlow(ctx, req, opts...) {
		if err != nil {
			return events, err
		}
		events = append(events, event)
	}
	return events, nil
}
