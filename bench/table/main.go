// Command table turns the output of the benchmarks in bench/ (any -count)
// into the markdown table of the README: the median ns/op, B/op and
// allocs/op of each benchmark, its time relative to the raw case of its
// group and framework (the benchmark of the same name ending in /raw, or
// /raw-v3 for a Fiber v3 case: a name with "-v3"), for fibercache its time
// relative to Fiber's cache on the same framework and storage
// (fibercache-mem against fiber-mem, fibercache-v3-mem against
// fiber-v3-mem; below 1: faster), and for a near cache (fibercache-near, fibercache-lag) its time relative
// to fibercache's in-process store.
//
//	go test ./bench -run '^$' -bench . -benchmem -count 6 > new.txt
//	go run ./bench/table < new.txt
package main

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
)

func main() {
	type sample struct{ ns, bytes, allocs []float64 }
	samples := map[string]*sample{}
	var order []string
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i] // the GOMAXPROCS suffix
			}
		}
		s := samples[name]
		if s == nil {
			s = &sample{}
			samples[name] = s
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				s.ns = append(s.ns, v)
			case "B/op":
				s.bytes = append(s.bytes, v)
			case "allocs/op":
				s.allocs = append(s.allocs, v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(1)
	}
	fmt.Println("| benchmark | ns/op | B/op | allocs/op | vs raw | vs Fiber's cache | vs in-process |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, name := range order {
		s := samples[name]
		vsRaw, vsFiber, vsMem := "", "", ""
		rawName := "raw"
		if strings.Contains(path.Base(name), "-v3") {
			rawName = "raw-v3"
		}
		if raw, ok := samples[path.Join(path.Dir(name), rawName)]; ok {
			vsRaw = ratio(s.ns, raw.ns)
		}
		if fiber, ok := samples[strings.Replace(name, "/fibercache-", "/fiber-", 1)]; ok && fiber != s {
			vsFiber = ratio(s.ns, fiber.ns)
		}
		if base := path.Base(name); base == "fibercache-near" || base == "fibercache-lag" {
			if mem, ok := samples[path.Join(path.Dir(name), "fibercache-mem")]; ok {
				vsMem = ratio(s.ns, mem.ns)
			}
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s |\n", name, duration(median(s.ns)), num(median(s.bytes)), num(median(s.allocs)), vsRaw, vsFiber, vsMem)
	}
}

// ratio is the median of a over the median of b.
func ratio(a, b []float64) string {
	if len(a) == 0 || len(b) == 0 {
		return ""
	}
	r := median(a) / median(b)
	if r >= 10 {
		return fmt.Sprintf("%.0fx", r)
	}
	return fmt.Sprintf("%.2fx", r)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return -1
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

// duration prints nanoseconds as ns or µs, three significant digits.
func duration(ns float64) string {
	switch {
	case ns < 0:
		return "–"
	case ns >= 1e4:
		return strconv.FormatFloat(ns/1e3, 'f', 1, 64) + " µs"
	case ns >= 1e3:
		return strconv.FormatFloat(ns/1e3, 'f', 2, 64) + " µs"
	}
	return strconv.FormatFloat(ns, 'f', 0, 64) + " ns"
}

func num(v float64) string {
	if v < 0 {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}
