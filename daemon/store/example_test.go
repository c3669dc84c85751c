package store_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/wharfhq/wharf/daemon/store"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "wharf-store-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := store.Open(dir, store.WithWatchBuffer(1024))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()

	kv, err := db.Create(ctx, "/pods/default/web", []byte("v1"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created at revision", kv.ModRevision)

	// Follow every change after the create.
	w, err := db.Watch(ctx, "/pods/", kv.ModRevision)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Stop()

	// Update only if nobody changed the pod since we read it.
	if _, err := db.Update(ctx, "/pods/default/web", []byte("v2"), kv.ModRevision); err != nil {
		log.Fatal(err)
	}
	ev := <-w.Events()
	fmt.Printf("watch: %s -> %s at revision %d\n", ev.PrevKV.Value, ev.KV.Value, ev.Revision)

	page, err := db.List(ctx, "/pods/", store.ListOptions{Limit: 100})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(page.KVs), "pod at revision", page.Revision)
	// Output:
	// created at revision 1
	// watch: v1 -> v2 at revision 2
	// 1 pod at revision 2
}
