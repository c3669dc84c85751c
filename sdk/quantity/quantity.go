package quantity

import (
	"math"
	"math/big"
	"math/bits"
)

// Format is the suffix family a quantity prints with.
type Format uint8

const (
	// DecimalSI prints with n u m k M G T P E suffixes ("1500m", "2k").
	DecimalSI Format = iota
	// BinarySI prints with Ki Mi Gi Ti Pi Ei suffixes ("512Mi") where the
	// value is a whole multiple of 1024, and as DecimalSI otherwise.
	BinarySI
	// DecimalExponent prints with an exponent ("1e3", "15e-3").
	DecimalExponent
)

const (
	minScale = -9 // nano
	maxScale = 18 // 10^18 is the largest power of ten below 2^63
)

// pow10 holds 10^0 .. 10^18.
var pow10 = [...]int64{
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
	1000000000, 10000000000, 100000000000, 1000000000000, 10000000000000,
	100000000000000, 1000000000000000, 10000000000000000,
	100000000000000000, 1000000000000000000,
}

// Quantity is an exact decimal amount with nano precision, at most 2^63-1 in
// magnitude. Build one with Parse, MustParse, New or NewMilli.
type Quantity struct {
	// The value is v * 10^s, with minScale <= s <= maxScale,
	// |v| <= MaxInt64 and, when s > 0, |v| * 10^s <= MaxInt64.
	v int64
	s int8
	f Format
}

// New returns value units (value CPUs, value bytes) printed in format f.
func New(value int64, f Format) Quantity {
	if value == math.MinInt64 {
		value = -math.MaxInt64
	}
	return Quantity{v: value, f: f}
}

// NewMilli returns milli thousandths of a unit ("500m" is NewMilli(500,
// DecimalSI)).
func NewMilli(milli int64, f Format) Quantity {
	if milli == math.MinInt64 {
		milli = -math.MaxInt64
	}
	return Quantity{v: milli, s: -3, f: f}
}

// Format reports the suffix family q prints with.
func (q Quantity) Format() Format { return q.f }

// IsZero reports whether q is 0.
func (q Quantity) IsZero() bool { return q.v == 0 }

// Sign returns -1, 0 or +1.
func (q Quantity) Sign() int {
	switch {
	case q.v < 0:
		return -1
	case q.v > 0:
		return 1
	}
	return 0
}

// Value returns q in whole units, rounded up (away from zero) as Kubernetes
// does: "100m" is 1, "1.5Gi" is 1610612736.
func (q Quantity) Value() int64 { return q.scaled(0) }

// MilliValue returns q in thousandths of a unit, rounded up (away from
// zero): "2" is 2000, "1n" is 1. A value beyond the int64 range
// saturates at math.MaxInt64 or math.MinInt64+1.
func (q Quantity) MilliValue() int64 { return q.scaled(-3) }

// scaled returns q / 10^scale rounded away from zero, saturated.
func (q Quantity) scaled(scale int) int64 {
	d := int(q.s) - scale
	switch {
	case d == 0:
		return q.v
	case d > 0:
		r, ok := mulPow10(q.v, d)
		if !ok {
			if q.v < 0 {
				return -math.MaxInt64
			}
			return math.MaxInt64
		}
		return r
	default:
		return divPow10Away(q.v, -d)
	}
}

// Cmp returns -1, 0 or +1 as q is less than, equal to or greater than y.
func (q Quantity) Cmp(y Quantity) int {
	if q.s == y.s {
		return cmp64(q.v, y.v)
	}
	qs, ys := q.Sign(), y.Sign()
	if qs != ys || qs == 0 {
		return cmp64(int64(qs), int64(ys))
	}
	if q.s > y.s {
		qv, ok := mulPow10(q.v, int(q.s-y.s))
		if !ok { // |q| is beyond anything y.v can hold
			return qs
		}
		return cmp64(qv, y.v)
	}
	yv, ok := mulPow10(y.v, int(y.s-q.s))
	if !ok {
		return -ys
	}
	return cmp64(q.v, yv)
}

// Add returns q + y in q's format (y's format when q is zero). A sum beyond
// the range is capped.
func (q Quantity) Add(y Quantity) Quantity {
	switch {
	case y.v == 0:
		return q
	case q.v == 0:
		return y
	}
	s := min(q.s, y.s)
	qv, ok1 := mulPow10(q.v, int(q.s-s))
	yv, ok2 := mulPow10(y.v, int(y.s-s))
	if ok1 && ok2 {
		sum, carry := add64(qv, yv)
		if !carry && sum != math.MinInt64 && inRange(sum, s) {
			return Quantity{v: sum, s: s, f: q.f}.trim()
		}
	}
	return addBig(q, y, q.f)
}

// Sub returns q - y in q's format (y's format when q is zero). A difference beyond the range is capped.
func (q Quantity) Sub(y Quantity) Quantity {
	y.v = -y.v // |v| <= MaxInt64, so this never overflows
	return q.Add(y)
}

// MarshalText implements encoding.TextMarshaler with the canonical form.
func (q Quantity) MarshalText() ([]byte, error) { return q.AppendText(nil) }

// AppendText implements encoding.TextAppender with the canonical form.
func (q Quantity) AppendText(b []byte) ([]byte, error) { return q.appendTo(b), nil }

// UnmarshalText implements encoding.TextUnmarshaler with Parse.
func (q *Quantity) UnmarshalText(b []byte) error {
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*q = p
	return nil
}

// trim drops trailing decimal zeros below the unit: 15000 * 10^-4 becomes
// 15 * 10^-1. It keeps the common cases ("500m", "2") in their cheapest form.
func (q Quantity) trim() Quantity {
	for q.s < 0 && q.v%10 == 0 && q.v != 0 {
		q.v /= 10
		q.s++
	}
	if q.v == 0 {
		q.s = 0
	}
	return q
}

// inRange reports whether v * 10^s is at most MaxInt64 in magnitude.
func inRange(v int64, s int8) bool {
	if s <= 0 {
		return true
	}
	_, ok := mulPow10(v, int(s))
	return ok
}

// capped is the largest quantity of v's sign.
func capped(neg bool, f Format) Quantity {
	if neg {
		return Quantity{v: -math.MaxInt64, f: f}
	}
	return Quantity{v: math.MaxInt64, f: f}
}

func cmp64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// mulPow10 returns v * 10^n and whether it fits (and is not MinInt64).
func mulPow10(v int64, n int) (int64, bool) {
	if v == 0 || n == 0 {
		return v, true
	}
	if n > maxScale {
		return 0, false
	}
	neg := v < 0
	u := uint64(v)
	if neg {
		u = uint64(-v)
	}
	hi, lo := bits.Mul64(u, uint64(pow10[n]))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	if neg {
		return -int64(lo), true
	}
	return int64(lo), true
}

// divPow10Away returns v / 10^n rounded away from zero.
func divPow10Away(v int64, n int) int64 {
	if n > maxScale {
		return int64(sign64(v))
	}
	d := pow10[n]
	r := v / d
	if v%d != 0 {
		r += int64(sign64(v))
	}
	return r
}

func sign64(v int64) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}

func add64(a, b int64) (int64, bool) {
	s := a + b
	// Overflow when a and b share a sign that s does not.
	return s, (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0)
}

// addBig is the rare path of Add: exact sum in math/big, then fitted.
func addBig(q, y Quantity, f Format) Quantity {
	s := min(q.s, y.s)
	a := bigScaled(q, s)
	b := bigScaled(y, s)
	return fromBig(a.Add(a, b), int(s), f)
}

// bigScaled returns q's value in units of 10^s (s <= q.s).
func bigScaled(q Quantity, s int8) *big.Int {
	n := big.NewInt(q.v)
	if d := q.s - s; d > 0 {
		n.Mul(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d)), nil))
	}
	return n
}

var (
	bigTen    = big.NewInt(10)
	bigMaxInt = big.NewInt(math.MaxInt64)
)

// fromBig fits n * 10^s into a Quantity: rounds up to nano, drops precision
// (rounding up) until the mantissa fits int64, caps at 2^63-1.
func fromBig(n *big.Int, s int, f Format) Quantity {
	neg := n.Sign() < 0
	m := new(big.Int).Abs(n)
	if m.Sign() == 0 {
		return Quantity{f: f}
	}
	rem := new(big.Int)
	for s < minScale || m.Cmp(bigMaxInt) > 0 {
		m.QuoRem(m, bigTen, rem)
		if rem.Sign() != 0 {
			m.Add(m, big.NewInt(1))
		}
		s++
	}
	if s > maxScale { // at least 10^19
		return capped(neg, f)
	}
	v := m.Int64()
	if neg {
		v = -v
	}
	if !inRange(v, int8(s)) {
		return capped(neg, f)
	}
	return Quantity{v: v, s: int8(s), f: f}.trim()
}
