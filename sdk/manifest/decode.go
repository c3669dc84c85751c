package manifest

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// Decode reads every object from r, a YAML stream (documents separated by
// ---) or a JSON stream (one or more objects). A document whose kind is
// List (or PodList, NodeList...) holds its objects in items, as kubectl
// writes them. Empty documents are skipped. source names r in errors, for
// example a file name; it may be empty.
//
// Decode returns the objects of every document that decoded, and an error
// that names each document that did not (see Error); nothing of a bad
// document is returned. Callers that must act on all or nothing check the
// error first.
func Decode(r io.Reader, source string) ([]Object, error) {
	d := NewDecoder(r, source)
	var objs []Object
	var errs []error
	for {
		o, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs = append(objs, o)
	}
	return objs, joinErrors(errs)
}

// Decoder reads objects from a stream of manifests one at a time.
//
// # Notes
//
//   - A Decoder is not safe for concurrent use.
//   - YAML is read as far as the next document; JSON input is read to its
//     end before the first object is returned.
//   - The input is JSON when its first character other than white space is
//     '{'; otherwise it is YAML.
type Decoder struct {
	source string
	in     *stickyReader
	br     *bufio.Reader

	started bool
	yaml    *yaml.Decoder
	json    *jsonStream
	index   int      // index of the next document
	queue   []Object // decoded objects not yet returned
	done    bool
}

// NewDecoder returns a Decoder that reads from r. source names r in
// errors; it may be empty.
func NewDecoder(r io.Reader, source string) *Decoder {
	sr := &stickyReader{r: r}
	return &Decoder{source: source, in: sr, br: bufio.NewReaderSize(sr, 64<<10)}
}

// Next returns the next object. It returns io.EOF after the last one.
//
// When a document is bad, Next returns an error naming it (an *Error, or
// several joined with errors.Join) and goes on with the next document on
// the following call. When the input cannot be parsed at all (a YAML or
// JSON syntax error, a read error) Next returns that error and io.EOF
// after it.
func (d *Decoder) Next() (Object, error) {
	for {
		if len(d.queue) > 0 {
			o := d.queue[0]
			d.queue = d.queue[1:]
			return o, nil
		}
		if d.done {
			return Object{}, io.EOF
		}
		doc, err := d.nextDocument()
		if err == io.EOF {
			d.done = true
			return Object{}, io.EOF
		}
		index := d.index
		d.index++
		if err != nil {
			d.done = true
			var se *syntaxError
			if errors.As(err, &se) {
				return Object{}, &Error{Source: d.source, Index: index, Item: -1, Line: se.line, Msg: se.msg}
			}
			return Object{}, err
		}
		objs, err := d.document(doc, index)
		if err != nil {
			return Object{}, err
		}
		d.queue = objs
	}
}

// nextDocument returns the next document node, which may be empty.
func (d *Decoder) nextDocument() (*yaml.Node, error) {
	if !d.started {
		d.started = true
		if isJSON(d.br) {
			data, err := io.ReadAll(d.br)
			if err != nil {
				return nil, d.readError(err)
			}
			d.json = newJSONStream(bytes.TrimPrefix(data, []byte("\ufeff")))
		} else {
			d.yaml = yaml.NewDecoder(d.br)
		}
	}
	if d.json != nil {
		return d.json.next()
	}
	var doc yaml.Node
	if err := decodeYAML(d.yaml, &doc); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		if d.in.err != nil {
			return nil, d.readError(d.in.err)
		}
		line := 0
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr != nil {
			line = 0
		}
		return nil, &syntaxError{line: line, msg: "invalid YAML: " + msg}
	}
	return &doc, nil
}

// decodeYAML parses one document, turning a panic in the parser into an
// error: input must never crash the caller.
func decodeYAML(dec *yaml.Decoder, doc *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: cannot parse: %v", r)
		}
	}()
	return dec.Decode(doc)
}

func (d *Decoder) readError(err error) error {
	if d.source != "" {
		return fmt.Errorf("%s: %w", d.source, err)
	}
	return err
}

// isJSON reports whether the input starts, after white space and a byte
// order mark, with '{'. It reads no further than that character, so a
// stream that trickles in is not held up.
func isJSON(br *bufio.Reader) bool {
	const bom = "\ufeff"
	for i := 0; i < br.Size(); i++ {
		buf, err := br.Peek(i + 1)
		if err != nil {
			return false
		}
		switch c := buf[i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		case i < len(bom) && strings.HasPrefix(bom, string(buf)):
		default:
			return c == '{'
		}
	}
	return false
}

// stickyReader remembers the first read error other than io.EOF, which
// the YAML parser would otherwise report as a syntax error.
type stickyReader struct {
	r   io.Reader
	err error
}

func (s *stickyReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// document decodes one document: an object, a List of objects, or nothing.
func (d *Decoder) document(doc *yaml.Node, index int) ([]Object, error) {
	if isNull(doc) {
		return nil, nil
	}
	n := deref(doc.Content[0])
	w := newWalker(doc)
	if n.Kind != yaml.MappingNode || n.ShortTag() != mapTag {
		return nil, d.errorf(n, index, -1, "", "", "want a mapping with apiVersion and kind, got %s", describe(n))
	}
	ps := w.pairs(n, "")
	if len(w.errs) > 0 {
		return nil, d.errs(w, index, -1, header(n))
	}
	if kind, ok := stringValue(lookup(ps, "kind")); ok {
		if kind == listKind {
			return d.list(w, n, ps, index, wharfv1.KindInfo{})
		}
		if k, ok := kinds().byKind[strings.TrimSuffix(kind, listKind)]; ok && strings.HasSuffix(kind, listKind) {
			return d.list(w, n, ps, index, k)
		}
	}
	o, err := d.object(w, n, ps, index, -1, wharfv1.KindInfo{})
	if err != nil {
		return nil, err
	}
	return []Object{o}, nil
}

// list decodes a List document (or a typed one such as PodList, whose
// items may leave out apiVersion and kind).
func (d *Decoder) list(w *walker, n *yaml.Node, ps []pair, index int, itemKind wharfv1.KindInfo) ([]Object, error) {
	kind := itemKind.Kind + listKind
	wantVersion := "v1"
	if itemKind.Kind != "" {
		wantVersion = itemKind.APIVersion
	}
	var items *yaml.Node
	for _, p := range ps {
		switch key := p.key.Value; key {
		case "kind":
		case "apiVersion":
			v, ok := stringValue(p.val)
			switch {
			case !ok:
				w.fail(p.val, key, "want a string, got %s", describe(p.val))
			case v != wantVersion:
				w.fail(p.val, key, "%q does not serve kind %s; use %q", v, kind, wantVersion)
			}
		case "metadata":
			d.listMeta(w, p.val)
		case "items":
			items = deref(p.val)
		default:
			w.fail(p.key, key, "%s", unknownField(key, []string{"apiVersion", "kind", "metadata", "items"}))
		}
	}
	if lookup(ps, "apiVersion") == nil {
		w.fail(n, "apiVersion", "required; a %s uses apiVersion %q", kind, wantVersion)
	}
	if len(w.errs) > 0 {
		return nil, d.errs(w, index, -1, header(n))
	}
	if isNull(items) {
		return nil, nil
	}
	if items.Kind != yaml.SequenceNode || items.ShortTag() != seqTag {
		return nil, d.errorf(items, index, -1, kind, "", "items: want a list, got %s", describe(items))
	}
	var objs []Object
	var errs []error
	for i, item := range items.Content {
		item = deref(item)
		if item == nil || item.Kind != yaml.MappingNode || item.ShortTag() != mapTag {
			errs = append(errs, d.errorf(item, index, i, "", "", "want a mapping with apiVersion and kind, got %s", describe(item)))
			continue
		}
		ips := w.pairs(item, "")
		if len(w.errs) > 0 {
			errs = append(errs, d.errs(w, index, i, header(item)))
			continue
		}
		o, err := d.object(w, item, ips, index, i, itemKind)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs = append(objs, o)
	}
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	return objs, nil
}

// listMeta checks a List's metadata, which carries nothing Wharf keeps.
func (d *Decoder) listMeta(w *walker, n *yaml.Node) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode || n.ShortTag() != mapTag {
		w.fail(n, "metadata", "want a mapping, got %s", describe(n))
		return
	}
	allowed := []string{"resourceVersion", "continue", "selfLink", "remainingItemCount"}
	for _, p := range w.pairs(n, "metadata") {
		path := joinPath("metadata", p.key.Value)
		switch v := deref(p.val); {
		case !slices.Contains(allowed, p.key.Value):
			w.fail(p.key, path, "%s", unknownField(p.key.Value, allowed))
		case v.Kind != yaml.ScalarNode:
			w.fail(v, path, "want a string, got %s", describe(v))
		}
	}
}

// object decodes one object from mapping n, whose entries are ps. A typed
// List passes the kind its items default to.
func (d *Decoder) object(w *walker, n *yaml.Node, ps []pair, index, item int, defaultKind wharfv1.KindInfo) (Object, error) {
	h := header(n)
	k, ok := d.kindOf(w, n, ps, defaultKind)
	if !ok {
		return Object{}, d.errs(w, index, item, h)
	}
	h.kind = k.Kind
	msg := k.New()
	w.fields(msg.ProtoReflect(), ps, "", []string{"apiVersion", "kind"})
	if len(w.errs) > 0 {
		return Object{}, d.errs(w, index, item, h)
	}
	return Object{Kind: k, Message: msg, Source: d.source, Index: index, Item: item, Line: n.Line}, nil
}

// kindOf checks apiVersion and kind and returns the kind.
func (d *Decoder) kindOf(w *walker, n *yaml.Node, ps []pair, defaultKind wharfv1.KindInfo) (wharfv1.KindInfo, bool) {
	t := kinds()
	kindNode, versionNode := lookup(ps, "kind"), lookup(ps, "apiVersion")
	var k wharfv1.KindInfo
	switch kind, ok := stringValue(kindNode); {
	case kindNode == nil && defaultKind.Kind != "":
		k = defaultKind
	case isNull(kindNode):
		w.fail(n, "kind", "required; %s", t.supported)
		return k, false
	case !ok:
		w.fail(kindNode, "kind", "want a string, got %s; %s", describe(kindNode), t.supported)
		return k, false
	case kind == listKind || strings.HasSuffix(kind, listKind) && t.byKind[strings.TrimSuffix(kind, listKind)].Kind != "":
		w.fail(kindNode, "kind", "a %s cannot be an item of a list", kind)
		return k, false
	default:
		var found bool
		if k, found = t.byKind[kind]; !found {
			msg := fmt.Sprintf("%q is not supported", kind)
			if s := suggestKind(kind); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			w.fail(kindNode, "kind", "%s; %s", msg, t.supported)
			return k, false
		}
		if defaultKind.Kind != "" && k.Kind != defaultKind.Kind {
			w.fail(kindNode, "kind", "%q cannot be an item of a %sList", kind, defaultKind.Kind)
			return k, false
		}
	}
	switch v, ok := stringValue(versionNode); {
	case versionNode == nil && defaultKind.Kind != "":
	case isNull(versionNode):
		w.fail(n, "apiVersion", "required; %s uses %q (%s)", k.Kind, k.APIVersion, t.supported)
		return k, false
	case !ok:
		w.fail(versionNode, "apiVersion", "want a string, got %s; %s uses %q", describe(versionNode), k.Kind, k.APIVersion)
		return k, false
	case v != k.APIVersion:
		w.fail(versionNode, "apiVersion", "%q does not serve kind %s; use %q (%s)", v, k.Kind, k.APIVersion, t.supported)
		return k, false
	}
	return k, true
}

// docHeader is what a document says about the object it holds, as far as
// it can be read without checking it; errors name the object by it.
type docHeader struct {
	kind, name string
}

func header(n *yaml.Node) docHeader {
	var h docHeader
	if n == nil || n.Kind != yaml.MappingNode {
		return h
	}
	h.kind, _ = stringValue(rawLookup(n, "kind"))
	if len(h.kind) > 64 {
		h.kind = h.kind[:64] + "..."
	}
	if md := deref(rawLookup(n, "metadata")); md != nil && md.Kind == yaml.MappingNode {
		h.name, _ = stringValue(rawLookup(md, "name"))
		if len(h.name) > 253 {
			h.name = h.name[:253] + "..."
		}
	}
	return h
}

// rawLookup finds a key in a mapping without merge keys or checks.
func rawLookup(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func lookup(ps []pair, key string) *yaml.Node {
	for _, p := range ps {
		if p.key.Value == key {
			return p.val
		}
	}
	return nil
}

// stringValue returns the value of a string scalar.
func stringValue(n *yaml.Node) (string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != strTag {
		return "", false
	}
	return n.Value, true
}

// errs turns the walker's problems into Errors naming the document, and
// clears them.
func (d *Decoder) errs(w *walker, index, item int, h docHeader) error {
	// In the order of the source, as a reader goes through it.
	slices.SortStableFunc(w.errs, func(a, b fieldError) int {
		return cmp.Or(cmp.Compare(a.line, b.line), cmp.Compare(a.col, b.col))
	})
	errs := make([]error, 0, len(w.errs))
	for _, fe := range w.errs {
		errs = append(errs, &Error{
			Source: d.source, Index: index, Item: item, Kind: h.kind, Name: h.name,
			Path: fe.path, Line: fe.line, Column: fe.col, Msg: fe.msg,
		})
	}
	w.errs = w.errs[:0]
	return joinErrors(errs)
}

// joinErrors is errors.Join, except that one error is returned as it is.
func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

func (d *Decoder) errorf(n *yaml.Node, index, item int, kind, name, format string, args ...any) error {
	e := &Error{Source: d.source, Index: index, Item: item, Kind: kind, Name: name, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	return e
}
