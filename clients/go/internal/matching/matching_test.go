package matching

import (
	"encoding/json"
	"testing"
)

func decode(t *testing.T, text string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMatching(t *testing.T) {
	cases := []struct {
		expected, actual string
		ok               bool
	}{
		{`{"a": 3}`, `{"a": 3.0, "extra": 1}`, true},
		{`{"a": "<any>"}`, `{"a": "x"}`, true},
		{`{"a": "<any>"}`, `{}`, false},
		{`{"a": "<absent>"}`, `{}`, true},
		{`{"a": "<absent>"}`, `{"a": 0}`, false},
		{`[1, 2]`, `[1]`, false},
		{`[{"x": true}]`, `[{"x": true}]`, true},
		{`{"x": true}`, `{"x": 1}`, false},
		{`{"a": {"b": "c"}}`, `{"a": {"b": "d"}}`, false},
		{`{"a": "1"}`, `{"a": 1}`, false},
	}
	for _, c := range cases {
		got := Mismatches(decode(t, c.expected), decode(t, c.actual), "$")
		if (len(got) == 0) != c.ok {
			t.Errorf("Mismatches(%s, %s) = %v, want ok=%v", c.expected, c.actual, got, c.ok)
		}
	}
}
