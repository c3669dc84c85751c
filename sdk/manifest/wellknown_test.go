package manifest

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestWellKnownTypes covers the protojson fallback that later kinds with
// Duration, Struct or wrapper fields will use.
func TestWellKnownTypes(t *testing.T) {
	t.Parallel()
	mustStruct := func(m map[string]any) *structpb.Struct {
		s, err := structpb.NewStruct(m)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name    string
		in      string
		msg     proto.Message
		want    proto.Message
		wantErr string
	}{
		{"duration", "1.5s", &durationpb.Duration{}, &durationpb.Duration{Seconds: 1, Nanos: 5e8}, ""},
		{"duration_bad", "soon", &durationpb.Duration{}, nil, `x: invalid Duration: invalid google.protobuf.Duration value "soon"`},
		{
			"struct", "{a: [1, -2, x, true, null, 1.5], b: {c: 2024-05-01}, d: &d {e: 1}, f: *d}", &structpb.Struct{},
			mustStruct(map[string]any{"a": []any{1, -2, "x", true, nil, 1.5}, "b": map[string]any{"c": "2024-05-01"}, "d": map[string]any{"e": 1}, "f": map[string]any{"e": 1}}), "",
		},
		{"struct_cycle", "&a [*a]", &structpb.Value{}, nil, "nested more than 100 levels deep"},
		{"wrapper", "42", &wrapperspb.Int64Value{}, wrapperspb.Int64(42), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tt.in), &doc); err != nil {
				t.Fatal(err)
			}
			w := newWalker(&doc)
			w.messageValue(tt.msg.ProtoReflect(), doc.Content[0], "x")
			if tt.wantErr != "" {
				if len(w.errs) == 0 || !strings.Contains(w.errs[0].path+": "+w.errs[0].msg, tt.wantErr) {
					t.Errorf("errors %+v, want %q", w.errs, tt.wantErr)
				}
				return
			}
			if len(w.errs) > 0 {
				t.Fatalf("errors %+v", w.errs)
			}
			assertEqual(t, tt.msg, tt.want)
		})
	}
}
