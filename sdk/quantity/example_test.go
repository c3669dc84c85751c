package quantity_test

import (
	"fmt"

	"github.com/wharfhq/wharf/sdk/quantity"
)

func Example() {
	cpu := quantity.MustParse("1.5")
	mem, err := quantity.Parse("1.5Gi")
	if err != nil {
		panic(err)
	}
	fmt.Println(cpu, cpu.MilliValue())
	fmt.Println(mem, mem.Value())
	fmt.Println(mem.Add(quantity.MustParse("512Mi")))
	fmt.Println(quantity.MustParse("500m").Cmp(quantity.MustParse("0.5")))
	_, err = quantity.Parse("2 GiB")
	fmt.Println(err)
	// Output:
	// 1500m 1500
	// 1536Mi 1610612736
	// 2Gi
	// 0
	// invalid quantity "2 GiB": unknown suffix " GiB"; want a number with an optional suffix Ki Mi Gi Ti Pi Ei (binary), n u m k M G T P E (decimal) or e<exponent>, e.g. 500m, 2, 1.5Gi, 1e3
}
