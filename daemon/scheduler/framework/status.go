package framework

import (
	"errors"
	"strconv"
	"strings"
)

// Code is the outcome of a plugin call.
type Code uint8

const (
	// Success: the node fits, or the call did its work. The zero Status is
	// a Success.
	Success Code = iota
	// Error: the plugin failed (not the node): the cycle is aborted.
	Error
	// Unschedulable: the node does not fit now; preemption or a change in
	// the cluster may make it fit.
	Unschedulable
	// UnschedulableAndUnresolvable: the node does not fit, and evicting
	// pods would not change that (a label, a taint, a node name).
	UnschedulableAndUnresolvable
	// Wait: from Permit only, the pod waits (for a gang, an approval).
	Wait
	// Skip: from PreFilter, the plugin has nothing to check for this pod and
	// its Filter is not called; from Score, the plugin has no opinion; from
	// Bind, the plugin leaves binding to the next binder.
	Skip
)

var codeNames = [...]string{"Success", "Error", "Unschedulable", "UnschedulableAndUnresolvable", "Wait", "Skip"}

func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "Code(" + strconv.Itoa(int(c)) + ")"
}

// Status is the outcome of a plugin call: a code, the reasons in words a
// user reads ("Insufficient cpu"), the plugin that said so and, for Error,
// the cause. The zero value is a Success. It is a small value type: a
// status for a node costs no allocation when it has one reason.
type Status struct {
	code   Code
	plugin string
	reason string   // first reason
	more   []string // further reasons
	err    error
}

// NewStatus returns a status with a code and reasons. Use it for
// Unschedulable, UnschedulableAndUnresolvable, Wait and Skip.
func NewStatus(code Code, reasons ...string) Status {
	s := Status{code: code}
	if len(reasons) > 0 {
		s.reason = reasons[0]
	}
	if len(reasons) > 1 {
		s.more = append([]string(nil), reasons[1:]...)
	}
	return s
}

// AsStatus returns an Error status for err (Success for nil).
func AsStatus(err error) Status {
	if err == nil {
		return Status{}
	}
	return Status{code: Error, reason: err.Error(), err: err}
}

// Code returns the status code.
func (s Status) Code() Code { return s.code }

// IsSuccess reports whether the code is Success.
func (s Status) IsSuccess() bool { return s.code == Success }

// IsRejection reports whether the node or pod was rejected
// (Unschedulable or UnschedulableAndUnresolvable).
func (s Status) IsRejection() bool {
	return s.code == Unschedulable || s.code == UnschedulableAndUnresolvable
}

// Plugin returns the name of the plugin that returned the status (set by the
// framework).
func (s Status) Plugin() string { return s.plugin }

// WithPlugin returns s with the plugin name set.
func (s Status) WithPlugin(name string) Status {
	s.plugin = name
	return s
}

// Reasons returns the reasons, for a user.
func (s Status) Reasons() []string {
	if s.reason == "" && len(s.more) == 0 {
		return nil
	}
	return append([]string{s.reason}, s.more...)
}

// Message joins the reasons with ", ".
func (s Status) Message() string {
	if len(s.more) == 0 {
		return s.reason
	}
	return s.reason + ", " + strings.Join(s.more, ", ")
}

// Err returns the cause of an Error status, nil otherwise.
func (s Status) Err() error {
	if s.code != Error {
		return nil
	}
	if s.err != nil {
		return s.err
	}
	return errors.New(s.Message())
}

// String is for logs: "Unschedulable: Insufficient cpu (NodeResourcesFit)".
func (s Status) String() string {
	var b strings.Builder
	b.WriteString(s.code.String())
	if m := s.Message(); m != "" {
		b.WriteString(": ")
		b.WriteString(m)
	}
	if s.plugin != "" {
		b.WriteString(" (")
		b.WriteString(s.plugin)
		b.WriteString(")")
	}
	return b.String()
}

// eachReason calls fn for every reason without allocating.
func (s *Status) eachReason(fn func(string)) {
	if s.reason != "" || len(s.more) > 0 {
		fn(s.reason)
	}
	for _, r := range s.more {
		fn(r)
	}
}
