package quantity

import "strconv"

// String returns the canonical form, as Kubernetes prints it: "0", "500m",
// "2", "1500m" (for "1.5"), "1k" (for "1000"), "512Mi", "1e3".
func (q Quantity) String() string {
	var buf [32]byte
	return string(q.appendTo(buf[:0]))
}

var (
	decSuffix = [...]string{"n", "u", "m", "", "k", "M", "G", "T", "P", "E"} // 10^-9 .. 10^18 by 3
	binSuffix = [...]string{"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}
)

func (q Quantity) appendTo(b []byte) []byte {
	if q.v == 0 {
		return append(b, '0')
	}
	if q.f == BinarySI {
		// Binary only for whole multiples of 1024; anything else prints
		// exactly as decimal. (Kubernetes prints a whole value that is
		// not a multiple of 1024 as a plain integer, "1025" but also
		// "102400000000009000"; that parses back as decimal and prints
		// "102400000000009k", so it would not be the canonical form.)
		if v := q.Value(); v%1024 == 0 && q.Cmp(Quantity{v: v}) == 0 {
			k := 0
			for k < len(binSuffix)-1 && v%1024 == 0 {
				v /= 1024
				k++
			}
			return append(strconv.AppendInt(b, v, 10), binSuffix[k]...)
		}
	}
	// Mantissa without trailing zeros, then the exponent lowered to a
	// multiple of three by appending zeros to the mantissa.
	v, s := q.v, int(q.s)
	for v%10 == 0 {
		v /= 10
		s++
	}
	pad := ((s % 3) + 3) % 3
	s -= pad
	b = strconv.AppendInt(b, v, 10)
	for range pad {
		b = append(b, '0')
	}
	if q.f == DecimalExponent {
		if s == 0 {
			return b
		}
		return strconv.AppendInt(append(b, 'e'), int64(s), 10)
	}
	return append(b, decSuffix[(s-minScale)/3]...)
}
