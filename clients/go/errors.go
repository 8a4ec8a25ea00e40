package botflow

import (
	"fmt"
	"sort"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// InvalidRequestError is an INVALID_ARGUMENT answer: the server refused the
// request and nothing ran. FieldViolations maps each path to what is wrong
// with it. Paths use the proto field names (snake_case, e.g.
// "action.openai.answer_variable"), whatever the casing of the caller's code.
type InvalidRequestError struct {
	// Message is the status message.
	Message string
	// FieldViolations are the google.rpc.BadRequest details, by path.
	FieldViolations map[string]string
	status          *status.Status
}

func (e *InvalidRequestError) Error() string {
	paths := make([]string, 0, len(e.FieldViolations))
	for path := range e.FieldViolations {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	return fmt.Sprintf("invalid request: %s [%s]", e.Message, strings.Join(paths, ", "))
}

// GRPCStatus lets status.FromError and status.Code see the original status.
func (e *InvalidRequestError) GRPCStatus() *status.Status { return e.status }

// FieldViolations returns the google.rpc.BadRequest field violations of a
// failed call by path; empty when there are none.
func FieldViolations(err error) map[string]string {
	found := map[string]string{}
	st, ok := status.FromError(err)
	if !ok {
		return found
	}
	for _, detail := range st.Details() {
		if bad, ok := detail.(*errdetails.BadRequest); ok {
			for _, v := range bad.GetFieldViolations() {
				found[v.GetField()] = v.GetDescription()
			}
		}
	}
	return found
}

// typed turns INVALID_ARGUMENT into *InvalidRequestError; other errors pass
// through unchanged (use status.Code on them).
func typed(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		return err
	}
	return &InvalidRequestError{Message: st.Message(), FieldViolations: FieldViolations(err), status: st}
}
