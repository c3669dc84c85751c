// Package archtest holds tests that enforce Wharf's architecture: which
// packages may import which. It has no non-test code.
package archtest
