// Package quantity parses, compares and sums resource quantities in
// Kubernetes notation: "500m" or "2" CPUs, "512Mi" of memory, "1" GPU.
//
// It is part of Wharf's SDK: plugin authors, the API client and the daemon
// all import it, so a quantity means the same thing everywhere. It imports
// nothing from Wharf.
//
// # Syntax
//
// A quantity is an optional sign, a decimal number ("2", "1.5", ".5") and an
// optional suffix:
//
//   - binary: Ki Mi Gi Ti Pi Ei (powers of 1024)
//   - decimal: n u m "" k M G T P E (powers of 1000, from nano to exa)
//   - exponent: e or E and a signed integer ("1e3", "5E-3")
//
// "E" alone is exa; "E" followed by digits is an exponent. Whitespace is not
// allowed.
//
// # Notes
//
//   - Precision: values keep nano precision; a finer value is rounded up (away
//     from zero) to the next nano, so asking for a tiny amount still asks for
//     some. Values with more than 18 significant digits round up likewise.
//   - Range: no quantity exceeds 2^63-1 in magnitude; larger values are
//     capped there, as Kubernetes documents for its Quantity.
//   - Canonical form: String gives the same text Kubernetes does for the same
//     value and suffix family: "1.5" prints as "1500m", "1000" as "1k",
//     "1536Mi" stays "1536Mi", "1.5Gi" prints as "1536Mi". One difference:
//     a binary quantity that is not a whole multiple of 1024 bytes prints as
//     decimal ("1.5Ki" as "1536", "100000000000008.789Ki" as
//     "102400000000009k"), so that String's output parses back to the same
//     text; Kubernetes prints the latter as "102400000000009000".
//   - A Quantity is a small value type (no pointers), safe to copy and to
//     share between goroutines. The zero value is 0.
//   - The common path (at most 18 significant digits) uses int64 arithmetic
//     only; math/big is reached only for longer numbers and overflowing sums.
package quantity
