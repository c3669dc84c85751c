package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxJSONDepth bounds nesting in JSON input; the walker needs far less.
const maxJSONDepth = 1000

// jsonStream reads a stream of JSON values and turns each into a YAML
// node tree, so one walker serves both formats. Nodes carry the line and
// column where their value starts.
type jsonStream struct {
	data     []byte
	dec      *json.Decoder
	newlines []int // offsets of '\n' in data
}

func newJSONStream(data []byte) *jsonStream {
	s := &jsonStream{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	s.dec.UseNumber()
	for i, c := range data {
		if c == '\n' {
			s.newlines = append(s.newlines, i)
		}
	}
	return s
}

// next returns the next top-level value, or io.EOF after the last one.
// Its error is a syntaxError for bad input.
func (s *jsonStream) next() (*yaml.Node, error) {
	line, col := s.pos()
	tok, err := s.dec.Token()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, s.syntaxError(err, line)
	}
	n, err := s.value(tok, line, col, 0)
	if err != nil {
		return nil, err
	}
	return &yaml.Node{Kind: yaml.DocumentNode, Line: n.Line, Column: n.Column, Content: []*yaml.Node{n}}, nil
}

func (s *jsonStream) value(tok json.Token, line, col, depth int) (*yaml.Node, error) {
	if depth > maxJSONDepth {
		return nil, &syntaxError{line: line, msg: fmt.Sprintf("invalid JSON: line %d: nested more than %d levels deep", line, maxJSONDepth)}
	}
	n := &yaml.Node{Line: line, Column: col}
	switch t := tok.(type) {
	case json.Delim:
		closing := json.Delim('}')
		n.Kind, n.Tag = yaml.MappingNode, mapTag
		if t == '[' {
			closing = ']'
			n.Kind, n.Tag = yaml.SequenceNode, seqTag
		}
		for {
			l, c := s.pos()
			tok, err := s.dec.Token()
			if err != nil {
				return nil, s.syntaxError(err, l)
			}
			if tok == closing {
				return n, nil
			}
			child, err := s.value(tok, l, c, depth+1)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, child)
			if n.Kind == yaml.MappingNode {
				// child is the key; the decoder guarantees a value follows.
				l, c := s.pos()
				tok, err := s.dec.Token()
				if err != nil {
					return nil, s.syntaxError(err, l)
				}
				v, err := s.value(tok, l, c, depth+1)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, v)
			}
		}
	case string:
		n.Kind, n.Tag, n.Value, n.Style = yaml.ScalarNode, strTag, t, yaml.DoubleQuotedStyle
	case json.Number:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, intTag, string(t)
		if strings.ContainsAny(string(t), ".eE") {
			n.Tag = floatTag
		}
	case bool:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, boolTag, fmt.Sprint(t)
	case nil:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, nullTag, "null"
	default:
		return nil, fmt.Errorf("manifest: unexpected JSON token %T", tok)
	}
	return n, nil
}

// pos returns the line and column (1-based) of the next token.
func (s *jsonStream) pos() (line, col int) {
	off := int(s.dec.InputOffset())
	for off < len(s.data) {
		switch s.data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
			continue
		}
		break
	}
	return s.lineCol(off)
}

func (s *jsonStream) lineCol(off int) (line, col int) {
	i := sort.SearchInts(s.newlines, off) // newlines before off
	start := 0
	if i > 0 {
		start = s.newlines[i-1] + 1
	}
	return i + 1, off - start + 1
}

func (s *jsonStream) syntaxError(err error, line int) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, _ = s.lineCol(int(se.Offset))
	}
	msg := err.Error()
	if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
		msg = "unexpected end of input"
		line, _ = s.lineCol(len(s.data))
	}
	return &syntaxError{line: line, msg: fmt.Sprintf("invalid JSON: line %d: %s", line, msg)}
}

// syntaxError is input that cannot be parsed; the stream ends there.
type syntaxError struct {
	line int
	msg  string
}

func (e *syntaxError) Error() string { return e.msg }
