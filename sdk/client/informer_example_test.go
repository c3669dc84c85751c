package client_test

import (
	"context"
	"fmt"
	"log"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/client"
)

// A node agent follows the pods bound to its node, and a scheduler-like
// component looks pods up by node without calling the server.
func ExampleNewInformer() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := client.New("http://127.0.0.1:7070")

	pods := client.NewInformer(c.Pods(), client.InformerOptions{})
	if err := pods.AddIndex("node", func(p *wharfv1.Pod) []string {
		if n := p.GetSpec().GetNodeName(); n != "" {
			return []string{n}
		}
		return nil
	}); err != nil {
		log.Fatal(err)
	}
	pods.AddEventHandler(client.EventHandler[*wharfv1.Pod]{
		AddFunc: func(p *wharfv1.Pod) {
			fmt.Println("added", client.Key(p.GetMetadata().GetNamespace(), p.GetMetadata().GetName()))
		},
		UpdateFunc: func(old, p *wharfv1.Pod) {
			if old.GetSpec().GetNodeName() == "" && p.GetSpec().GetNodeName() != "" {
				fmt.Println("bound to", p.GetSpec().GetNodeName())
			}
		},
		DeleteFunc: func(p *wharfv1.Pod) { fmt.Println("deleted", p.GetMetadata().GetName()) },
	})
	go func() {
		if err := pods.Run(ctx); err != nil {
			log.Print(err)
		}
	}()
	if err := pods.WaitForSync(ctx); err != nil {
		log.Fatal(err)
	}
	// Objects from the cache are shared: read them, never change them.
	for _, p := range pods.ByIndex("node", "node-1") {
		fmt.Println(p.GetMetadata().GetName(), p.GetStatus().GetPhase())
	}
}
