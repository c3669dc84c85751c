package runtime

import "github.com/wharfhq/wharf/sdk/quantity"

// milliValue parses a Kubernetes quantity ("500m", "2") in thousandths.
func milliValue(s string) (int64, error) {
	q, err := quantity.Parse(s)
	if err != nil {
		return 0, err
	}
	return q.MilliValue(), nil
}

// quantityValue parses a Kubernetes quantity ("512Mi") rounded up to a whole number.
func quantityValue(s string) (int64, error) {
	q, err := quantity.Parse(s)
	if err != nil {
		return 0, err
	}
	return q.Value(), nil
}
