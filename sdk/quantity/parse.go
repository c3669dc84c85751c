package quantity

import (
	"errors"
	"fmt"
	"math/big"
	"math/bits"
)

// ErrInvalid is what every Parse error wraps: the text is not a quantity.
// The error's message names the text and says what is allowed.
var ErrInvalid = errors.New("invalid quantity")

const allowed = "want a number with an optional suffix Ki Mi Gi Ti Pi Ei (binary), " +
	"n u m k M G T P E (decimal) or e<exponent>, e.g. 500m, 2, 1.5Gi, 1e3"

type parseError struct{ value, problem string }

func (e *parseError) Error() string {
	return fmt.Sprintf("invalid quantity %q: %s; %s", e.value, e.problem, allowed)
}

func (e *parseError) Unwrap() error { return ErrInvalid }

// maxDigits is how many significant digits the int64 path takes.
const maxDigits = 18

// Parse reads a quantity such as "500m", "2", "1.5", "512Mi", "1Gi", "1G",
// "100k" or "1e3". Errors wrap ErrInvalid.
func Parse(str string) (Quantity, error) {
	i, neg := 0, false
	if len(str) > 0 {
		switch str[0] {
		case '-':
			neg, i = true, 1
		case '+':
			i = 1
		}
	}
	var (
		m      uint64 // up to maxDigits significant digits
		sig    int    // digits in m
		exp    int    // value = m * 10^exp (before the suffix)
		digits int    // digits seen, leading zeros included
		long   bool   // a non-zero digit beyond maxDigits: exact path
	)
	for ; i < len(str) && isDigit(str[i]); i++ {
		digits++
		d := uint64(str[i] - '0')
		switch {
		case sig == 0 && d == 0:
		case sig < maxDigits:
			m, sig = m*10+d, sig+1
		default:
			exp++
			long = long || d != 0
		}
	}
	if i < len(str) && str[i] == '.' {
		for i++; i < len(str) && isDigit(str[i]); i++ {
			digits++
			d := uint64(str[i] - '0')
			switch {
			case sig == 0 && d == 0:
				exp--
			case sig < maxDigits:
				m, sig, exp = m*10+d, sig+1, exp-1
			default:
				long = long || d != 0
			}
		}
	}
	if digits == 0 {
		if len(str) == 0 {
			return Quantity{}, &parseError{str, "empty"}
		}
		return Quantity{}, &parseError{str, "does not start with a number"}
	}
	e10, b, f, ok := parseSuffix(str[i:])
	if !ok {
		return Quantity{}, &parseError{str, fmt.Sprintf("unknown suffix %q", str[i:])}
	}
	if long || (b > 0 && bits.Len64(m)+b > 63) {
		return parseExact(str, neg, e10, b, f), nil
	}
	v := m << b
	s := exp + e10
	switch {
	case v == 0:
		return Quantity{f: f}, nil
	case s < minScale: // finer than nano: round up
		v = uint64(divPow10Away(int64(v), minScale-s))
		s = minScale
	case s > maxScale:
		return capped(neg, f), nil
	}
	q := Quantity{v: int64(v), s: int8(s), f: f}
	if neg {
		q.v = -q.v
	}
	if !inRange(q.v, q.s) {
		return capped(neg, f), nil
	}
	return q.fixFormat().trim(), nil
}

// MustParse is Parse for constants and tests: it panics on an error.
func MustParse(str string) Quantity {
	q, err := Parse(str)
	if err != nil {
		panic(err)
	}
	return q
}

// fixFormat prints a binary quantity below one unit as decimal, like
// Kubernetes ("0.5Ki" has no binary form).
func (q Quantity) fixFormat() Quantity {
	if q.f == BinarySI && q.v != 0 && q.s < 0 {
		if q.Cmp(Quantity{v: 1}) < 0 && q.Cmp(Quantity{v: -1}) > 0 {
			q.f = DecimalSI
		}
	}
	return q
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parseSuffix returns the suffix's power of ten, power of two and format.
func parseSuffix(s string) (e10, b int, f Format, ok bool) {
	switch s {
	case "":
		return 0, 0, DecimalSI, true
	case "n":
		return -9, 0, DecimalSI, true
	case "u":
		return -6, 0, DecimalSI, true
	case "m":
		return -3, 0, DecimalSI, true
	case "k":
		return 3, 0, DecimalSI, true
	case "M":
		return 6, 0, DecimalSI, true
	case "G":
		return 9, 0, DecimalSI, true
	case "T":
		return 12, 0, DecimalSI, true
	case "P":
		return 15, 0, DecimalSI, true
	case "E":
		return 18, 0, DecimalSI, true
	case "Ki":
		return 0, 10, BinarySI, true
	case "Mi":
		return 0, 20, BinarySI, true
	case "Gi":
		return 0, 30, BinarySI, true
	case "Ti":
		return 0, 40, BinarySI, true
	case "Pi":
		return 0, 50, BinarySI, true
	case "Ei":
		return 0, 60, BinarySI, true
	}
	if len(s) < 2 || (s[0] != 'e' && s[0] != 'E') {
		return 0, 0, 0, false
	}
	s = s[1:]
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	if len(s) == 0 {
		return 0, 0, 0, false
	}
	e := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, 0, 0, false
		}
		// Past ±10^6 the result is capped or rounded to 1n the same way.
		if e < 1_000_000 {
			e = e*10 + int(s[i]-'0')
		}
	}
	if neg {
		e = -e
	}
	return e, 0, DecimalExponent, true
}

// parseExact is the math/big path for numbers with more than maxDigits
// significant digits or a binary product beyond int64.
func parseExact(str string, neg bool, e10, b int, f Format) Quantity {
	n := new(big.Int)
	s := e10
	i := 0
	if str[0] == '-' || str[0] == '+' {
		i = 1
	}
	frac := false
	for ; i < len(str); i++ {
		c := str[i]
		if c == '.' {
			frac = true
			continue
		}
		if !isDigit(c) {
			break
		}
		n.Mul(n, bigTen)
		n.Add(n, big.NewInt(int64(c-'0')))
		if frac {
			s--
		}
	}
	if n.Sign() == 0 {
		return Quantity{f: f}
	}
	n.Lsh(n, uint(b))
	// Bound s so fromBig never loops long: below the nano digit the value
	// rounds to 1n; at or above 10^19 it is capped.
	digits := len(n.String())
	if s+digits < minScale {
		s = minScale - digits - 1
	}
	if s > maxScale {
		return capped(neg, f)
	}
	if neg {
		n.Neg(n)
	}
	return fromBig(n, s, f).fixFormat()
}
