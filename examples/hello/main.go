// Command hello is the program in Wharf's demo image
// (wharf.local/hello:latest, built by `go tool task demo-image`): it prints
// its arguments as a greeting, or "Hello from Wharf!", with the pod it runs
// in, and exits.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	greeting := "Hello from Wharf!"
	if len(os.Args) > 1 {
		greeting = strings.Join(os.Args[1:], " ")
	}
	fmt.Println(greeting)
	if host, err := os.Hostname(); err == nil {
		fmt.Printf("(from pod %s)\n", host)
	}
}
