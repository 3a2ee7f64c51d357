// Go anchor for tickless's blocking-timer benchmarks: the same scenarios in
// Go, printed as TSV lines "name<TAB>ns_per_op<TAB>heap_bytes_per_op".
// Built and run by `cargo bench -p tickless --bench blocking` when `go` is on
// PATH. With Go < 1.23 the After loop keeps every timer until it fires.
package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"time"
)

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func report(name string, n int, start time.Time, before uint64) {
	ns := float64(time.Since(start).Nanoseconds()) / float64(n)
	after := heap()
	grown := 0.0
	if after > before {
		grown = float64(after-before) / float64(n)
	}
	fmt.Printf("%s\t%.1f\t%.1f\n", name, ns, grown)
}

// series runs only the After loop, printing "sample<TAB>iteration<TAB>heap bytes"
// at 20 points: the leak case study of `tickless demo`.
func series(n int) {
	work := make(chan int, 1)
	base := heap()
	step := n / 20
	if step == 0 {
		step = 1
	}
	for i := 1; i <= n; i++ {
		work <- i
		select {
		case <-work:
		case <-time.After(time.Hour):
		}
		if i%step == 0 {
			h := heap() // after a GC: what the loop retains
			grown := uint64(0)
			if h > base {
				grown = h - base
			}
			fmt.Printf("sample\t%d\t%d\n", i, grown)
		}
	}
	fmt.Printf("go-version\t%s\t0\n", runtime.Version())
}

// churnBeside is the scheduler benchmark's churn (`tickless bench sched`):
// AfterFunc(1 h) + Stop, with `pending` other one-hour AfterFuncs waiting,
// after a warm-up round.
func churnBeside(n, pending int) {
	held := make([]*time.Timer, 0, pending)
	for i := 0; i < pending; i++ {
		held = append(held, time.AfterFunc(time.Hour, func() {}))
	}
	for round := 0; round < 2; round++ {
		before := heap()
		start := time.Now()
		for i := 0; i < n; i++ {
			t := time.AfterFunc(time.Hour, func() {})
			t.Stop()
		}
		if round == 1 {
			report("AfterFunc+Stop beside pending", n, start, before)
		}
	}
	runtime.KeepAlive(held)
	fmt.Printf("go-version\t%s\t0\n", runtime.Version())
}

func main() {
	n := flag.Int("n", 1000000, "iterations per scenario")
	seriesMode := flag.Bool("series", false, "only the After loop, sampled")
	pending := flag.Int("pending", 0, "only AfterFunc+Stop churn, beside this many pending AfterFuncs")
	flag.Parse()
	if *seriesMode {
		series(*n)
		return
	}
	if *pending > 0 {
		churnBeside(*n, *pending)
		return
	}

	before := heap()
	start := time.Now()
	for i := 0; i < *n; i++ {
		t := time.NewTimer(time.Hour)
		t.Stop()
	}
	report("NewTimer+Stop", *n, start, before)

	before = heap()
	start = time.Now()
	for i := 0; i < *n; i++ {
		t := time.AfterFunc(time.Hour, func() {})
		t.Stop()
	}
	report("AfterFunc+Stop", *n, start, before)

	work := make(chan int, 1)
	before = heap()
	start = time.Now()
	for i := 0; i < *n; i++ {
		work <- i
		select {
		case <-work:
		case <-time.After(time.Hour):
		}
	}
	report("After in select loop", *n, start, before)

	// Go's fixed form of the loop: one Timer per turn, stopped after.
	before = heap()
	start = time.Now()
	for i := 0; i < *n; i++ {
		work <- i
		t := time.NewTimer(time.Hour)
		select {
		case <-work:
		case <-t.C:
		}
		t.Stop()
	}
	report("NewTimer in select loop+Stop", *n, start, before)

	// The idle-timeout pattern: one Timer per connection, pushed out on
	// every read (Go 1.19: Stop first, then Reset, as its docs require).
	idle := time.NewTimer(time.Hour)
	before = heap()
	start = time.Now()
	for i := 0; i < *n; i++ {
		idle.Stop()
		idle.Reset(time.Hour)
	}
	report("Timer.Reset", *n, start, before)
	idle.Stop()

	// A request's deadline under a cancellable parent, cancelled when the
	// request ends (as `defer cancel()` does).
	parent, cancelParent := context.WithCancel(context.Background())
	before = heap()
	start = time.Now()
	for i := 0; i < *n; i++ {
		_, cancel := context.WithTimeout(parent, time.Hour)
		cancel()
	}
	report("WithTimeout+cancel", *n, start, before)
	cancelParent()
	fmt.Printf("go-version\t%s\t0\n", runtime.Version())
}
