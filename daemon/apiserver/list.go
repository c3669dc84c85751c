package apiserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"

	"connectrpc.com/connect"

	"github.com/wharfhq/wharf/sdk/client"

	"github.com/wharfhq/wharf/daemon/store"
)

// listOptions are the List request's.
type listOptions struct {
	Namespace     string
	LabelSelector string
	FieldSelector string
	Limit         int64
	Continue      string
	// Stored: return the items as the store holds them (listResult.stored,
	// for setStoredItems), not decoded; they are decoded only to be
	// filtered.
	Stored bool
}

type listResult[T object] struct {
	items           []T
	stored          []storedObject // with listOptions.Stored
	resourceVersion string
	continueToken   string
}

// storedObject is an object as the store holds it, and its revision.
type storedObject struct {
	raw []byte
	rev int64
}

// continueToken is the opaque continue value: the last key returned and
// the revision the first page was read at, so every page reads the same
// snapshot.
type continueToken struct {
	Rev   int64  `json:"r"`
	After string `json:"k"`
}

// filter is a parsed label and field selector.
type filter struct {
	labels client.LabelSelector
	fields fieldSelector
}

func (f filter) empty() bool { return f.labels.Empty() && len(f.fields) == 0 }

func (r *resource[T]) parseFilter(labelSel, fieldSel string) (filter, error) {
	ls, err := client.ParseLabelSelector(labelSel)
	if err != nil {
		return filter{}, errBadRequest("%v", err)
	}
	fs, err := parseFieldSelector(fieldSel, r.md)
	if err != nil {
		return filter{}, errBadRequest("%v", err)
	}
	return filter{labels: ls, fields: fs}, nil
}

func (f filter) matches(obj object) bool {
	if !f.labels.Empty() && !f.labels.Matches(obj.GetMetadata().GetLabels()) {
		return false
	}
	return len(f.fields) == 0 || f.fields.matches(obj.ProtoReflect())
}

// listPage is how many keys a List reads from the store at a time when a
// selector may skip many of them.
const listPage = 1000

func (r *resource[T]) list(ctx context.Context, opts listOptions) (listResult[T], error) {
	var zero listResult[T]
	ns := ""
	if r.ref.namespaced {
		ns = opts.Namespace
	}
	if err := r.s.authorize(ctx, "list", r.info.Kind, ns, ""); err != nil {
		return zero, err
	}
	if opts.Limit < 0 {
		return zero, errBadRequest("limit %d is negative; use 0 for no limit", opts.Limit)
	}
	f, err := r.parseFilter(opts.LabelSelector, opts.FieldSelector)
	if err != nil {
		return zero, err
	}
	var tok continueToken
	if opts.Continue != "" {
		raw, err := base64.RawURLEncoding.DecodeString(opts.Continue)
		if err == nil {
			err = json.Unmarshal(raw, &tok)
		}
		if err != nil || tok.Rev <= 0 {
			return zero, errBadRequest("continue token %q is not one this server issued; list again without continue", opts.Continue)
		}
	}
	prefix := r.ref.nsPrefix(ns)
	if tok.After != "" && (len(tok.After) < len(prefix) || tok.After[:len(prefix)] != prefix) {
		return zero, errBadRequest("continue token belongs to another list; list again without continue")
	}
	out := listResult[T]{items: []T{}}
	rev := tok.Rev
	after := tok.After
	n := 0 // items so far
	for {
		pageLimit := listPage
		if f.empty() && opts.Limit > 0 {
			pageLimit = int(opts.Limit) - n + 1 // +1 tells whether more remain
		}
		page, err := r.s.store.List(ctx, prefix, store.ListOptions{StartAfter: after, Limit: pageLimit, Revision: rev})
		if errors.Is(err, store.ErrCompacted) && opts.Continue != "" {
			return zero, newAPIError(connect.CodeOutOfRange, "the continue token has expired (its snapshot was compacted); list again without continue")
		}
		if err != nil {
			return zero, err
		}
		rev = page.Revision
		for _, kv := range page.KVs {
			var obj T
			if !opts.Stored || !f.empty() {
				if obj, err = r.decode(kv); err != nil {
					return zero, err
				}
				if !f.matches(obj) {
					continue
				}
			}
			if opts.Limit > 0 && int64(n) == opts.Limit {
				// One more match exists: hand out a token after the last returned.
				out.continueToken = r.continueAfter(rev, after)
				out.resourceVersion = strconv.FormatInt(rev, 10)
				return out, nil
			}
			if opts.Stored {
				out.stored = append(out.stored, storedObject{raw: kv.Value, rev: kv.ModRevision})
			} else {
				out.items = append(out.items, obj)
			}
			n++
			after = kv.Key // the last returned
		}
		if !page.More || len(page.KVs) == 0 {
			break
		}
		after = page.KVs[len(page.KVs)-1].Key // the last read
	}
	out.resourceVersion = strconv.FormatInt(rev, 10)
	return out, nil
}

// continueAfter makes the token that resumes a list after the key lastKey.
func (r *resource[T]) continueAfter(rev int64, lastKey string) string {
	b, _ := json.Marshal(continueToken{Rev: rev, After: lastKey})
	return base64.RawURLEncoding.EncodeToString(b)
}
