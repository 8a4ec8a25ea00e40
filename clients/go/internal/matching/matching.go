// Package matching is the subset matcher of the contract vectors, a port of
// tests/contract/matching.py (see tests/contract/README.md).
package matching

import (
	"encoding/json"
	"fmt"
	"reflect"
)

const (
	// Any matches any present value.
	Any = "<any>"
	// Absent requires the key to be missing (zero, empty or unset in canonical JSON).
	Absent = "<absent>"
)

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// Mismatches lists where actual does not match expected; empty when it does.
// Both are decoded JSON (maps, slices, float64, string, bool, nil).
func Mismatches(expected, actual any, path string) []string {
	if expected == Any {
		if actual == nil {
			return []string{path + ": missing"}
		}
		return nil
	}
	switch want := expected.(type) {
	case map[string]any:
		return objectMismatches(want, actual, path)
	case []any:
		got, ok := actual.([]any)
		if !ok || len(got) != len(want) {
			return []string{fmt.Sprintf("%s: expected %d items, got %s", path, len(want), show(actual))}
		}
		var found []string
		for i := range want {
			found = append(found, Mismatches(want[i], got[i], fmt.Sprintf("%s[%d]", path, i))...)
		}
		return found
	}
	// Numbers are float64 on both sides, so 3 matches 3.0; bools and strings
	// compare by type and value.
	if !reflect.DeepEqual(expected, actual) {
		return []string{fmt.Sprintf("%s: expected %s, got %s", path, show(expected), show(actual))}
	}
	return nil
}

func objectMismatches(want map[string]any, actual any, path string) []string {
	got, ok := actual.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: expected an object, got %s", path, show(actual))}
	}
	var found []string
	for key, value := range want {
		item, present := got[key]
		switch {
		case value == Absent:
			if present {
				found = append(found, fmt.Sprintf("%s.%s: expected absent, got %s", path, key, show(item)))
			}
		case !present:
			found = append(found, fmt.Sprintf("%s.%s: missing", path, key))
		default:
			found = append(found, Mismatches(value, item, path+"."+key)...)
		}
	}
	return found
}
