// Command busy is the program inside Wharf's test image: a static binary that
// does, in order, what its arguments say, so one image serves every container
// test (exit codes, signals, logs, OOM, probes, env, mounts).
//
// Each argument is a step, VERB or VERB=VALUE:
//
//	echo=TEXT       print TEXT and a newline to stdout
//	echoerr=TEXT    print TEXT and a newline to stderr
//	lines=N         print N numbered lines ("line 1" ...) to stdout
//	env             print the environment to stdout, one VAR=value a line, sorted
//	cat=PATH        copy the file at PATH to stdout
//	exists=PATH     exit 3 unless PATH exists
//	write=PATH=TEXT write TEXT and a newline to the file at PATH
//	rm=PATH         remove the file at PATH
//	get=URL         HTTP GET URL (retrying for up to 10 s) and print the body to stdout; exit 4 on failure
//	alloc=MiB       allocate and touch MiB mebibytes, and keep them
//	serve=ADDR      serve HTTP on ADDR in the background (every path answers 200 "ok from HOSTNAME")
//	grpc=ADDR       serve gRPC health checks (grpc.health.v1.Health) on ADDR in the background, in plain
//	                text: the server as a whole ("") is SERVING, and so is any service named after a
//	                comma (grpc=:9090,my.Service)
//	ignore-term     ignore SIGTERM from now on (only SIGKILL stops the program)
//	sleep           sleep forever
//	sleep=DURATION  sleep for a Go duration ("1s", "250ms")
//	exit=N          exit with status N
//
// With no steps busy sleeps forever. Unless ignore-term was given, SIGTERM
// prints "busy: SIGTERM" to stdout and exits 0 (a program that is PID 1 in
// its container must handle SIGTERM itself, or the kernel ignores it).
// After the last step busy exits 0.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"connectrpc.com/grpchealth"
)

// keep holds allocated memory so the collector cannot free it.
var keep [][]byte

func main() {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	go func() {
		<-term
		fmt.Println("busy: SIGTERM")
		os.Exit(0)
	}()

	steps := os.Args[1:]
	if len(steps) == 0 {
		steps = []string{"sleep"}
	}
	for _, step := range steps {
		verb, value, _ := strings.Cut(step, "=")
		if err := run(verb, value); err != nil {
			fmt.Fprintf(os.Stderr, "busy: %s: %v\n", step, err)
			os.Exit(2)
		}
	}
}

func run(verb, value string) error {
	switch verb {
	case "echo":
		fmt.Println(value)
	case "echoerr":
		fmt.Fprintln(os.Stderr, value)
	case "lines":
		n, err := strconv.Atoi(value)
		if err != nil {
			return err
		}
		for i := 1; i <= n; i++ {
			fmt.Printf("line %d\n", i)
		}
	case "env":
		env := os.Environ()
		sort.Strings(env)
		for _, kv := range env {
			fmt.Println(kv)
		}
	case "cat":
		f, err := os.Open(value)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(os.Stdout, f)
		return err
	case "exists":
		if _, err := os.Stat(value); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
	case "write":
		p, text, _ := strings.Cut(value, "=")
		return os.WriteFile(p, []byte(text+"\n"), 0o644)
	case "rm":
		return os.Remove(value)
	case "get":
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			var resp *http.Response
			c := http.Client{Timeout: 2 * time.Second}
			if resp, err = c.Get(value); err == nil {
				_, err = io.Copy(os.Stdout, resp.Body)
				resp.Body.Close()
				if err == nil {
					return nil
				}
			}
		}
		fmt.Fprintln(os.Stderr, "busy: get:", err)
		os.Exit(4)
	case "alloc":
		mib, err := strconv.Atoi(value)
		if err != nil {
			return err
		}
		for i := 0; i < mib; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			keep = append(keep, b)
		}
		fmt.Printf("allocated %d MiB\n", mib)
	case "serve":
		mux := http.NewServeMux()
		host, _ := os.Hostname()
		mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok from", host) })
		go func() {
			if err := http.ListenAndServe(value, mux); err != nil {
				fmt.Fprintln(os.Stderr, "busy: serve:", err)
				os.Exit(2)
			}
		}()
	case "grpc":
		addr, services, _ := strings.Cut(value, ",")
		mux := http.NewServeMux()
		mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(strings.Split(services, ",")...)))
		protocols := new(http.Protocols)
		protocols.SetUnencryptedHTTP2(true)
		srv := &http.Server{Addr: addr, Handler: mux, Protocols: protocols}
		go func() {
			if err := srv.ListenAndServe(); err != nil {
				fmt.Fprintln(os.Stderr, "busy: grpc:", err)
				os.Exit(2)
			}
		}()
	case "ignore-term":
		signal.Reset(syscall.SIGTERM)
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("busy: ignoring SIGTERM")
	case "sleep":
		if value == "" {
			select {}
		}
		d, err := time.ParseDuration(value)
		if err != nil {
			return err
		}
		time.Sleep(d)
	case "exit":
		n, err := strconv.Atoi(value)
		if err != nil {
			return err
		}
		os.Exit(n)
	default:
		return fmt.Errorf("unknown step %q", verb)
	}
	return nil
}
