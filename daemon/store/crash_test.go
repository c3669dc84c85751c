package store

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	crashHelperEnv = "WHARF_STORE_CRASH_HELPER"
	crashDirEnv    = "WHARF_STORE_CRASH_DIR"
	crashRoundEnv  = "WHARF_STORE_CRASH_ROUND"
)

// TestHelperProcessWriter is the child of TestCrashRecovery: it writes
// concurrently and prints "ACK <op> <key> <revision>" for every
// acknowledged write until it is killed.
func TestHelperProcessWriter(t *testing.T) {
	if os.Getenv(crashHelperEnv) != "1" {
		t.Skip("helper process for TestCrashRecovery")
	}
	round := os.Getenv(crashRoundEnv)
	// Compaction runs often so that crashes also land in the middle of it.
	db, err := Open(os.Getenv(crashDirEnv), WithMemTableSize(16<<20), WithCompaction(20*time.Millisecond, 300))
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	ack := func(op, key string, rev int64) {
		mu.Lock()
		defer mu.Unlock()
		// os.Stdout is unbuffered: each line is one write(2).
		if _, err := fmt.Fprintf(os.Stdout, "ACK %s %s %d\n", op, key, rev); err != nil {
			os.Exit(3)
		}
	}
	ctx := context.Background()
	for g := range 32 {
		go func() {
			for i := 0; ; i++ {
				key := fmt.Sprintf("r%s/g%02d/%06d", round, g, i)
				kv, err := db.Create(ctx, key, []byte(key))
				if err != nil {
					fmt.Fprintln(os.Stderr, "create:", err)
					os.Exit(4)
				}
				ack("create", key, kv.ModRevision)
				if i%4 == 3 {
					kv, err = db.Update(ctx, key, []byte(key+"+"), kv.ModRevision)
					if err != nil {
						fmt.Fprintln(os.Stderr, "update:", err)
						os.Exit(5)
					}
					ack("update", key, kv.ModRevision)
				}
			}
		}()
	}
	select {}
}

type ackedWrite struct {
	op  string
	key string
	rev int64
}

// readAcks parses complete ACK lines; a line cut by the kill is dropped.
// started is closed after the 200th.
func readAcks(r io.Reader, started chan<- struct{}) ([]ackedWrite, error) {
	br := bufio.NewReader(r)
	var acks []ackedWrite
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				return acks, nil
			}
			return acks, err
		}
		f := strings.Fields(line)
		if len(f) != 4 || f[0] != "ACK" {
			continue // test framework output
		}
		rev, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			return acks, fmt.Errorf("bad line %q", line)
		}
		acks = append(acks, ackedWrite{f[1], f[2], rev})
		if len(acks) == 200 {
			close(started)
		}
	}
}

// TestCrashRecovery SIGKILLs a writing child process at a random moment,
// reopens the store and checks that every acknowledged write is there with
// its revision, that revisions never go down and that history is dense.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	const rounds = 5
	dir := t.TempDir()
	ctx := context.Background()
	created := map[string]int64{} // key -> acked create revision
	updated := map[string]int64{} // key -> acked update revision
	lastRev := int64(0)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashHelperEnv+"=1", crashDirEnv+"="+dir, crashRoundEnv+"="+strconv.Itoa(round))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		started := make(chan struct{})
		type result struct {
			acks []ackedWrite
			err  error
		}
		res := make(chan result, 1)
		go func() {
			acks, err := readAcks(stdout, started)
			res <- result{acks, err}
		}()
		select {
		case <-started:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("round %d: child is not writing; stderr:\n%s", round, stderr.String())
		}
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		r := <-res
		_ = cmd.Wait()
		if r.err != nil {
			t.Fatalf("round %d: reading acks: %v", round, r.err)
		}
		if strings.Contains(stderr.String(), "create:") || strings.Contains(stderr.String(), "update:") || strings.Contains(stderr.String(), "open:") {
			t.Fatalf("round %d: child failed:\n%s", round, stderr.String())
		}
		maxAck := int64(0)
		for _, a := range r.acks {
			if a.op == "create" {
				created[a.key] = a.rev
			} else {
				updated[a.key] = a.rev
			}
			maxAck = max(maxAck, a.rev)
		}

		db, err := Open(dir, testOpts()...)
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		rev := db.Revision()
		t.Logf("round %d: %d acks, max acked %d, recovered revision %d, compacted %d", round, len(r.acks), maxAck, rev, db.CompactedRevision())
		if rev < maxAck || rev < lastRev {
			t.Fatalf("round %d: recovered revision %d < acked %d or previous %d", round, rev, maxAck, lastRev)
		}
		lastRev = rev
		for key, crev := range created {
			kv, err := db.Get(ctx, key)
			if err != nil {
				t.Fatalf("round %d: acked key %q (revision %d): %v", round, key, crev, err)
			}
			if kv.CreateRevision != crev {
				t.Fatalf("round %d: %q create revision %d, acked %d", round, key, kv.CreateRevision, crev)
			}
			if urev, ok := updated[key]; ok && (kv.ModRevision != urev || string(kv.Value) != key+"+") {
				t.Fatalf("round %d: %q = %s, acked update at %d", round, key, kvString(kv), urev)
			}
		}
		// History is dense: a replay of everything kept has every revision.
		comp := db.CompactedRevision()
		if comp > rev {
			t.Fatalf("round %d: compacted %d above revision %d", round, comp, rev)
		}
		if rev > comp {
			w := mustWatchRaw(t, db, "", comp)
			evs := collect(t, w, rev, 30*time.Second)
			w.Stop()
			if err := checkContiguous(evs, comp+1, rev); err != nil {
				t.Fatalf("round %d: replay: %v", round, err)
			}
		}
		all, _ := listAll(t, db, "", 0, 0)
		if s := db.Stats(); s.Keys != int64(len(all)) {
			t.Fatalf("round %d: Stats.Keys %d, listed %d", round, s.Keys, len(all))
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
