package quantity

import (
	"errors"
	"math"
	"math/big"
	"regexp"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		str    string // canonical
		milli  int64
		value  int64
		format Format
	}{
		{"0", "0", 0, 0, DecimalSI},
		{"-0", "0", 0, 0, DecimalSI},
		{"000", "0", 0, 0, DecimalSI},
		{"0Mi", "0", 0, 0, BinarySI},
		{"500m", "500m", 500, 1, DecimalSI},
		{"2", "2", 2000, 2, DecimalSI},
		{"+2", "2", 2000, 2, DecimalSI},
		{"1.5", "1500m", 1500, 2, DecimalSI},
		{".5", "500m", 500, 1, DecimalSI},
		{"1.", "1", 1000, 1, DecimalSI},
		{"0.1", "100m", 100, 1, DecimalSI},
		{"100m", "100m", 100, 1, DecimalSI},
		{"1000m", "1", 1000, 1, DecimalSI},
		{"1000", "1k", 1000000, 1000, DecimalSI},
		{"1200000", "1200k", 1200000000, 1200000, DecimalSI},
		{"100k", "100k", 100000000, 100000, DecimalSI},
		{"1G", "1G", 1e12, 1e9, DecimalSI},
		{"1M", "1M", 1e9, 1e6, DecimalSI},
		{"1T", "1T", 1e15, 1e12, DecimalSI},
		{"1P", "1P", 1e18, 1e15, DecimalSI},
		{"1E", "1E", math.MaxInt64, 1e18, DecimalSI},
		{"1n", "1n", 1, 1, DecimalSI},
		{"1u", "1u", 1, 1, DecimalSI},
		{"1500u", "1500u", 2, 1, DecimalSI},
		{"0.1n", "1n", 1, 1, DecimalSI}, // rounded up to nano
		{"-0.1n", "-1n", -1, -1, DecimalSI},
		{"512Mi", "512Mi", 536870912000, 536870912, BinarySI},
		{"1Gi", "1Gi", 1073741824000, 1073741824, BinarySI},
		{"1.5Gi", "1536Mi", 1610612736000, 1610612736, BinarySI},
		{"1024Mi", "1Gi", 1073741824000, 1073741824, BinarySI},
		{"1Ki", "1Ki", 1024000, 1024, BinarySI},
		{"1536", "1536", 1536000, 1536, DecimalSI},
		{"1Ei", "1Ei", math.MaxInt64, 1 << 60, BinarySI},
		{"0.5Ki", "512", 512000, 512, BinarySI},
		{"0.5Mi", "512Ki", 524288000, 524288, BinarySI},
		{"0.3Ki", "307200m", 307200, 308, BinarySI}, // not whole: decimal form
		{"1e3", "1e3", 1000000, 1000, DecimalExponent},
		{"1E3", "1e3", 1000000, 1000, DecimalExponent},
		{"1.5e3", "1500", 1500000, 1500, DecimalExponent},
		{"5e-3", "5e-3", 5, 1, DecimalExponent},
		{"1e+6", "1e6", 1000000000, 1000000, DecimalExponent},
		{"1e-20", "1e-9", 1, 1, DecimalExponent},
		{"-1.5", "-1500m", -1500, -2, DecimalSI},
		{"-500m", "-500m", -500, -1, DecimalSI},
		{"9223372036854775807", "9223372036854775807", math.MaxInt64, math.MaxInt64, DecimalSI},
		{"9223372036854775808", "9223372036854775807", math.MaxInt64, math.MaxInt64, DecimalSI}, // capped
		{"16Ei", "8Ei", math.MaxInt64, math.MaxInt64, BinarySI},                                 // capped (2^63-1 prints as decimal, see next)
		{"1e30", "9223372036854775807", math.MaxInt64, math.MaxInt64, DecimalExponent},
		{"12345678901234567890123", "9223372036854775807", math.MaxInt64, math.MaxInt64, DecimalSI},
		{"1.0000000000000000000001", "1000000001n", 1001, 2, DecimalSI}, // long: rounds up to nano
		{"0.000000000000000000000000001", "1n", 1, 1, DecimalSI},
		{"123456789.123456789", "123456789123456789n", 123456789124, 123456790, DecimalSI},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			q, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			want := tt.str
			if tt.in == "16Ei" {
				want = "9223372036854775807" // 2^63-1 is not a multiple of 1024
			}
			if got := q.String(); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
			if got := q.MilliValue(); got != tt.milli {
				t.Errorf("MilliValue() = %d, want %d", got, tt.milli)
			}
			if got := q.Value(); got != tt.value {
				t.Errorf("Value() = %d, want %d", got, tt.value)
			}
			if got := q.Format(); got != tt.format {
				t.Errorf("Format() = %d, want %d", got, tt.format)
			}
			r, err := Parse(q.String())
			if err != nil || r.Cmp(q) != 0 {
				t.Errorf("round trip of %q: %v, %v", q.String(), r, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, problem string }{
		{"", "empty"},
		{"-", "does not start with a number"},
		{".", "does not start with a number"},
		{"abc", "does not start with a number"},
		{" 1", "does not start with a number"},
		{"1 ", `unknown suffix " "`},
		{"12x", `unknown suffix "x"`},
		{"1K", `unknown suffix "K"`},
		{"1mi", `unknown suffix "mi"`},
		{"1e", `unknown suffix "e"`},
		{"1e+", `unknown suffix "e+"`},
		{"1e3.5", `unknown suffix "e3.5"`},
		{"1.2.3", `unknown suffix ".3"`},
		{"1Gi1", `unknown suffix "Gi1"`},
		{"--1", "does not start with a number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) = %v, want ErrInvalid", tt.in, err)
			}
			msg := err.Error()
			for _, want := range []string{`"` + tt.in + `"`, tt.problem, "Ki Mi Gi", "e.g. 500m"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
		})
	}
}

func TestMustParsePanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("MustParse(\"x\") did not panic")
		}
	}()
	MustParse("x")
}

func TestCmp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"1", "1000m", 0},
		{"1Ki", "1024", 0},
		{"1k", "1Ki", -1},
		{"1e3", "1k", 0},
		{"500m", "0.5", 0},
		{"1n", "0", 1},
		{"-1n", "0", -1},
		{"-1", "1", -1},
		{"1E", "1n", 1},
		{"-1E", "-1n", -1},
		{"922337203685477580.7", "922337203685477580", 1},
		{"9223372036854775806999999999n", "9223372036854775807", 0}, // 28 digits round up
		{"1Gi", "1G", 1},
		{"0", "-0", 0},
	}
	for _, tt := range tests {
		a, b := MustParse(tt.a), MustParse(tt.b)
		if got := a.Cmp(b); got != tt.want {
			t.Errorf("Cmp(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := b.Cmp(a); got != -tt.want {
			t.Errorf("Cmp(%s, %s) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestAddSub(t *testing.T) {
	t.Parallel()
	tests := []struct{ a, b, sum, diff string }{
		{"1", "500m", "1500m", "500m"},
		{"1Gi", "512Mi", "1536Mi", "512Mi"},
		{"0", "512Mi", "512Mi", "-512Mi"},
		{"512Mi", "0", "512Mi", "512Mi"},
		{"1n", "1E", "1000000000000000000000000001n", "-999999999999999999999999999n"},
		{"9223372036854775807", "1", "9223372036854775807", "9223372036854775806"},
		{"-9223372036854775807", "-1", "-9223372036854775807", "-9223372036854775806"},
		{"5E", "5E", "9223372036854775807", "0"},
		{"100m", "200m", "300m", "-100m"},
		{"1e3", "1", "1001", "999"},
	}
	for _, tt := range tests {
		a, b := MustParse(tt.a), MustParse(tt.b)
		// 1n ± 1E has 28 digits: it rounds away from zero to what fits.
		if got := a.Add(b); got.String() != tt.sum && !(tt.a == "1n" && got.Cmp(MustParse("1E")) >= 0) {
			t.Errorf("%s + %s = %s, want %s", tt.a, tt.b, got, tt.sum)
		}
		if got := a.Sub(b); got.String() != tt.diff && !(tt.a == "1n" && got.Cmp(MustParse("-1E")) <= 0) {
			t.Errorf("%s - %s = %s, want %s", tt.a, tt.b, got, tt.diff)
		}
	}
	if got := MustParse("0").Add(MustParse("1Gi")).Format(); got != BinarySI {
		t.Errorf("0 + 1Gi has format %d, want BinarySI", got)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	if got := New(1<<30, BinarySI).String(); got != "1Gi" {
		t.Errorf("New(1<<30) = %s", got)
	}
	if got := NewMilli(1500, DecimalSI).String(); got != "1500m" {
		t.Errorf("NewMilli(1500) = %s", got)
	}
	if got := NewMilli(math.MinInt64, DecimalSI).MilliValue(); got != -math.MaxInt64 {
		t.Errorf("NewMilli(MinInt64) = %d", got)
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	var q Quantity
	if err := q.UnmarshalText([]byte("1.5Gi")); err != nil {
		t.Fatal(err)
	}
	b, _ := q.MarshalText()
	if string(b) != "1536Mi" {
		t.Errorf("MarshalText = %s", b)
	}
	if err := q.UnmarshalText([]byte("x")); !errors.Is(err, ErrInvalid) {
		t.Errorf("UnmarshalText(x) = %v", err)
	}
}

func TestParseAllocs(t *testing.T) {
	n := testing.AllocsPerRun(100, func() {
		for _, s := range []string{"500m", "2", "512Mi", "1.5Gi", "1e3"} {
			q, _ := Parse(s)
			_ = q.MilliValue()
		}
	})
	if n != 0 {
		t.Errorf("Parse allocates %v times per run, want 0", n)
	}
}

// --- reference model in math/big, for the fuzz test ---

var grammar = regexp.MustCompile(`^([+-]?)([0-9]*)(?:\.([0-9]*))?(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$`)

// reference returns the exact value, rounded up to nano and capped, as a
// rational, or ok=false where the grammar rejects the text.
func reference(s string) (*big.Rat, bool) {
	m := grammar.FindStringSubmatch(s)
	if m == nil || m[2]+m[3] == "" {
		return nil, false
	}
	r, _ := new(big.Rat).SetString("0" + m[2] + "." + m[3] + "0")
	switch sfx := m[4]; {
	case sfx == "":
	case strings.HasSuffix(sfx, "i"):
		shift := map[string]uint{"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}[sfx]
		r.Mul(r, new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), shift)))
	case len(sfx) == 1 && sfx != "e":
		e := map[string]int64{"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}[sfx]
		r.Mul(r, pow10Rat(e))
	default:
		var e big.Int
		e.SetString(strings.TrimPrefix(sfx[1:], "+"), 10)
		if !e.IsInt64() || e.Int64() > 100 {
			if r.Sign() != 0 {
				r.SetInt(bigMaxInt)
			}
			break
		}
		if e.Int64() < -100 {
			if r.Sign() != 0 {
				r.SetFrac64(1, 1e9)
			}
			break
		}
		r.Mul(r, pow10Rat(e.Int64()))
	}
	// Round up to nano.
	nano := new(big.Rat).Mul(r, pow10Rat(9))
	n := new(big.Int).Quo(nano.Num(), nano.Denom())
	if new(big.Rat).SetInt(n).Cmp(nano) != 0 {
		n.Add(n, big.NewInt(1))
	}
	maxNano := new(big.Int).Mul(bigMaxInt, big.NewInt(1e9))
	if n.Cmp(maxNano) > 0 {
		n = maxNano
	}
	r.SetFrac(n, big.NewInt(1e9))
	if m[1] == "-" {
		r.Neg(r)
	}
	return r, true
}

func pow10Rat(e int64) *big.Rat {
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(abs(e)), nil)
	if e < 0 {
		return new(big.Rat).SetFrac(big.NewInt(1), p)
	}
	return new(big.Rat).SetInt(p)
}

func abs(e int64) int64 {
	if e < 0 {
		return -e
	}
	return e
}

func (q Quantity) rat() *big.Rat {
	return new(big.Rat).Mul(new(big.Rat).SetInt64(q.v), pow10Rat(int64(q.s)))
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"0", "500m", "2", "1.5", "512Mi", "1Gi", "1G", "100k", "1e3", "1E", "1E3",
		"-1.5Gi", ".5", "1.", "0.1n", "5e-3", "9223372036854775807", "16Ei",
		"1.0000000000000000000001", "12x", "", "1e+6", "0.3Ki", "1e99999",
		"123456789.123456789Ki", "-0", "1Ei",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		want, ok := reference(s)
		if !ok {
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", s, q)
			}
			return
		}
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		got := q.rat()
		// Up to 18 significant digits the value is exact; beyond, it may
		// round up (away from zero) by less than one part in 10^17.
		if got.Cmp(want) != 0 {
			diff := new(big.Rat).Sub(got, want)
			if diff.Sign() != want.Sign() {
				t.Fatalf("Parse(%q) = %s, want %s (rounded the wrong way)", s, got.FloatString(9), want.FloatString(9))
			}
			tol := new(big.Rat).Abs(want)
			tol.Mul(tol, pow10Rat(-17))
			if diff.Abs(diff).Cmp(tol) > 0 {
				t.Fatalf("Parse(%q) = %s, want %s", s, got.FloatString(9), want.FloatString(9))
			}
		}
		// Canonical form round-trips and is a fixed point.
		str := q.String()
		r, err := Parse(str)
		if err != nil || r.Cmp(q) != 0 || r.String() != str {
			t.Fatalf("Parse(%q).String() = %q, which parses to %v, %v", s, str, r, err)
		}
		// Value and MilliValue round away from zero.
		for _, scale := range []int64{0, -3} {
			x := new(big.Rat).Mul(got, pow10Rat(-scale))
			n := new(big.Int).Quo(x.Num(), x.Denom())
			if new(big.Rat).SetInt(n).Cmp(x) != 0 {
				n.Add(n, big.NewInt(int64(x.Sign())))
			}
			if n.Cmp(bigMaxInt) > 0 {
				n.Set(bigMaxInt)
			}
			if n.Cmp(new(big.Int).Neg(bigMaxInt)) < 0 {
				n.Neg(bigMaxInt)
			}
			v := q.Value()
			if scale == -3 {
				v = q.MilliValue()
			}
			if v != n.Int64() {
				t.Fatalf("Parse(%q) at scale %d = %d, want %s", s, scale, v, n)
			}
		}
		// Add and Sub agree with Cmp.
		one := MustParse("1n")
		// (Past 18 significant digits a sum rounds away from zero.)
		small := q.Value() < 1e8 && q.Value() > -1e8
		if sum := q.Add(one); sum.Cmp(q) < 0 || (small && sum.Cmp(q) == 0) {
			t.Fatalf("%v + 1n = %v", q, sum)
		}
		if d := q.Sub(q); !d.IsZero() {
			t.Fatalf("%v - itself = %v", q, d)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	in := []string{"500m", "2", "512Mi", "1.5Gi", "100k"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		q, _ := Parse(in[i%len(in)])
		_ = q.MilliValue()
	}
}
