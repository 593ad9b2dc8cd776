// Command v3gen writes the Fiber v3 adapter's tests and package
// documentation from the Fiber v2 adapter's: every *_test.go file of the
// repository's root, and internal/testkit, rewritten from Fiber v2's types and API to Fiber v3's
// (the rules below), so that one suite, written once, checks both
// adapters. Run it from fiberv3 (go generate does):
//
//	go run ./internal/v3gen          # writes the files
//	go run ./internal/v3gen -check   # fails when what is committed is not what it writes
//
// A test is left out of the v3 suite only when it exercises nothing of
// the adapter (a storage backend under load, races or faults) and is
// expensive: see excludedTests and excludedFiles, each with its reason.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// A rule rewrites Fiber v2 code into Fiber v3 code.
type rule struct {
	re   *regexp.Regexp
	repl string
	why  string
}

func r(pattern, repl, why string) rule { return rule{regexp.MustCompile(pattern), repl, why} }

// rules are applied in order, to every file.
var rules = []rule{
	r(`"github\.com/gofiber/fiber/v2`, `"github.com/gofiber/fiber/v3`, "Fiber v3 and its middleware"),
	r(`"github\.com/fiber-caches/cache/internal/testkit"`, `"github.com/fiber-caches/cache/fiberv3/internal/testkit"`, "the v3 testkit"),
	r(`(?m)^(\s*)(cache )?"github\.com/fiber-caches/cache"`, `${1}cache "github.com/fiber-caches/cache/fiberv3"`, "the v3 adapter"),
	r(`\*fiber\.Ctx\b`, `fiber.Ctx`, "fiber.Ctx is an interface in v3"),
	r(`\bc\.Context\(\)`, `c.RequestCtx()`, "v2's c.Context() is the fasthttp context: v3's c.RequestCtx()"),
	r(`\bc\.UserContext\(\)`, `c.Context()`, "v2's c.UserContext() is v3's c.Context()"),
	r(`\bc\.Hostname\(\)`, `c.Host()`, "v2's c.Hostname() keeps the port: v3's c.Host() does (its Hostname drops it)"),
	r(`\bc\.Protocol\(\)`, `c.Scheme()`, "v2's c.Protocol() is the scheme: v3's c.Scheme() (its Protocol is HTTP/1.1)"),
	r(`\.Test\((.*), -1\)`, `.Test($1, fiber.TestConfig{Timeout: 0})`, "app.Test without a timeout"),
	r(`DisableStartupMessage: true, `, ``, "v3 has it in ListenConfig"),
	r(`fiber\.Config\{DisableStartupMessage: true\}`, `fiber.Config{}`, "v3 has it in ListenConfig"),
	r(`(?m)^\s*\w+\.DisableStartupMessage = true\n`, ``, "v3 has it in ListenConfig"),
	r(`\.Listener\(ln\)`, `.Listener(ln, fiber.ListenConfig{DisableStartupMessage: true})`, "v3's startup banner is a ListenConfig option"),
	r(`EnableTrustedProxyCheck: (\w+), TrustedProxies: (\[\]string\{[^}]*\})`, `TrustProxy: true, TrustProxyConfig: testkit.TrustedProxies($1, $2)`, "v3's proxy trust (TrustProxy, TrustProxyConfig)"),
	r(`\b(\w+)\.ParamsInt\(("[^"]*")\)`, `strconv.Atoi($1.Params($2))`, "v3 has no c.ParamsInt (fiber.Params[int] has no error): v2's is strconv.Atoi"),
	r(`\b(r|app)\.Add\((\w+), `, `$1.Add([]string{$2}, `, "v3's Router.Add takes a list of methods"),
	r(`\bc\.AllParams\(\)`, `testkit.AllParams(c)`, "v3 has no c.AllParams (see testkit.AllParams)"),
	r(`\bsession\.New\(\)`, `session.NewStore()`, "v3's session store"),
	r(`\bv2App\{`, `v3App{`, "the adapter's App"),
	r(`\bctx\.Init\(&req, nil, nil\)`, `ctx.Init(&req, testkit.Loopback(), nil)`, "a client on 127.0.0.1: v3's IsProxyTrusted allocates for 0.0.0.0 (fasthttp's default) when the app trusts proxies (see testkit.NewApp); the cache's own allocations are what the tests count"),
	r(`// 401 Invalid or expired API Key`, `// 401 missing or invalid API Key`, "Fiber v3's keyauth says so when the Validator refuses a key (an Output line)"),
	// Fiber v2 trusts every proxy unless EnableTrustedProxyCheck; v3 trusts
	// none unless TrustProxy. The suite was written on v2's default:
	// testkit.NewApp gives a v3 app that default (unless the test
	// configures TrustProxy), so every assertion holds as written; the
	// tests with EnableTrustedProxyCheck (above) and fiberv3_test.go check
	// the untrusted case. Examples keep fiber.New: they are documentation.
	r(`\bfiber\.New\(`, `testkit.NewApp(`, "v2's proxy trust default (see testkit.NewApp)"),
}

// exampleRules replace rules for example files: no testkit.NewApp.
var skipInExamples = map[string]bool{`\bfiber\.New\(`: true}

// excludedFiles are left out of the v3 suite as a whole.
var excludedFiles = map[string]string{
	"fault_test.go":        "storage fault injection under load: the backends' guard, no adapter code",
	"guard_test.go":        "the storage guard's pause, deadlines and pending list, no adapter code",
	"near_race_test.go":    "near tier races on Redis: the backend, no adapter code",
	"fleet_race_test.go":   "fleet coalescing races on Redis: the backend, no adapter code",
	"cluster_test.go":      "Redis Cluster: the backend, no adapter code",
	"near_cluster_test.go": "near tier on Redis Cluster: the backend, no adapter code",
}

// excludedTests are left out of the v3 suite, by name.
var excludedTests = map[string]string{
	"TestCorrectness_StaleStress":                 "every backend under concurrent writes for seconds: backend load, no adapter code",
	"TestCorrectness_StaleAfterAcknowledgedWrite": "every backend against acknowledged writes: the backends' protocol, no adapter code",
	"TestTags_ConstantStorageOps":                 "10,000 tagged entries in each backend: backend cost, no adapter code",
	"TestRedisInvalidate_RaceAtEveryPoint":        "an invalidation at every Redis round trip: the Redis backend's protocol (TestInvalidate_RaceAtEveryPoint runs the same through v3 on the in-process store and a fiber.Storage)",
	"TestRedisInvalidate_RaceInterleavings":       "every interleaving of an invalidation with Redis round trips: the Redis backend's protocol",
	"TestInvalidate_RaceInterleavings":            "every interleaving of an invalidation with a plain storage's calls: the backend's protocol (TestInvalidate_RaceAtEveryPoint stays)",
	"TestFleet_SteadyLoad":                        "fleet coalescing through Redis under load for seconds: the backend's leases",
	"TestAbuse_WritesDoNotEvict":                  "100,000 writes against the in-process store's bound: the store",
	"TestAbuse_RedisWritesLeaveNoKeys":            "10,000 writes against Redis leave no keys: the Redis backend",
	"TestNear_MemoryBound":                        "the near tier's memory bound under many responses: the near tier",
	"TestNear_TrackingTableOverflow":              "Redis's tracking table overflowing: the near tier",
	"TestRedisDownServesTheHandler":               "a Redis outage, handled by the storage guard (TestStorageDownServesTheHandler runs the same path through v3)",
}

// docEdits turn the Fiber v2 adapter's package documentation (../doc.go)
// into this one's: each old text must be found exactly once, so that a
// change to doc.go that one of them no longer fits stops go generate.
var docEdits = []struct{ old, new, why string }{
	{"Package cache is fibercache, an HTTP response cache middleware for Fiber v2\n" +
		"(github.com/fiber-caches/cache/fiberv3 is the same for Fiber v3).",
		"Package cache is fibercache, an HTTP response cache middleware for Fiber v3\n" +
			"(github.com/gofiber/fiber/v3). It is the Fiber v3 adapter of\n" +
			"github.com/fiber-caches/cache (the Fiber v2 one): the same engine, the same\n" +
			"names and guarantees, on Fiber v3's types.",
		"this package is the v3 adapter"},
	{"(c.Hostname(), which is\n    X-Forwarded-Host when Fiber trusts the proxy, as it does by default)",
		"(c.Host(), which is\n    X-Forwarded-Host when the app trusts the proxy: Config.TrustProxy and\n" +
			"    TrustProxyConfig; Fiber v3 trusts none by default)",
		"v3's host (c.Hostname drops the port) and proxy trust"},
}

// rewriteDoc writes doc.go from the v2 adapter's.
func rewriteDoc(src []byte) ([]byte, error) {
	s := string(src)
	for _, e := range docEdits {
		if n := strings.Count(s, e.old); n != 1 {
			return nil, fmt.Errorf("doc.go: %q is there %d times, not once: update docEdits (%s)", e.old, n, e.why)
		}
		s = strings.Replace(s, e.old, e.new, 1)
	}
	return format.Source([]byte("// Code generated by v3gen from ../doc.go; DO NOT EDIT.\n\n" + s))
}

func main() {
	check := flag.Bool("check", false, "report files that differ from what would be written, and write nothing")
	root := flag.String("root", "..", "the repository's root (the Fiber v2 adapter)")
	flag.Parse()
	jobs, err := plan(*root)
	if err != nil {
		log.Fatal(err)
	}
	stale := 0
	for _, j := range jobs {
		src, err := os.ReadFile(j.from)
		if err != nil {
			log.Fatal(err)
		}
		out, err := rewrite(src, j)
		if j.doc {
			out, err = rewriteDoc(src)
		}
		if err != nil {
			log.Fatalf("%s: %v", j.from, err)
		}
		old, _ := os.ReadFile(j.to)
		if bytes.Equal(old, out) {
			continue
		}
		if *check {
			fmt.Fprintf(os.Stderr, "v3gen: %s is not what v3gen writes from %s: run go generate in fiberv3\n", j.to, j.from)
			stale++
			continue
		}
		if err := os.MkdirAll(filepath.Dir(j.to), 0o755); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(j.to, out, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	// Generated files whose source is gone.
	for _, dir := range []string{".", filepath.Join("internal", "testkit")} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil || !bytes.HasPrefix(b, []byte("// Code generated by v3gen ")) {
				continue
			}
			if !slices.ContainsFunc(jobs, func(j job) bool { return filepath.Clean(j.to) == filepath.Clean(f) }) {
				if *check {
					fmt.Fprintf(os.Stderr, "v3gen: %s has no source any more: run go generate in fiberv3\n", f)
					stale++
					continue
				}
				if err := os.Remove(f); err != nil {
					log.Fatal(err)
				}
			}
		}
	}
	if stale > 0 {
		os.Exit(1)
	}
}

// A job writes one file of the v3 suite from one of the v2 suite.
type job struct {
	from, to string
	header   string // the source, relative to the written file
	example  bool
	doc      bool // the package documentation: docEdits, not rules
}

func plan(root string) ([]job, error) {
	var jobs []job
	tests, err := filepath.Glob(filepath.Join(root, "*_test.go"))
	if err != nil {
		return nil, err
	}
	for _, f := range tests {
		base := filepath.Base(f)
		if _, ok := excludedFiles[base]; ok {
			continue
		}
		jobs = append(jobs, job{from: f, to: base, header: "../" + base, example: strings.HasPrefix(base, "example")})
	}
	jobs = append(jobs, job{from: filepath.Join(root, "doc.go"), to: "doc.go", doc: true})
	kit, err := filepath.Glob(filepath.Join(root, "internal", "testkit", "*.go"))
	if err != nil {
		return nil, err
	}
	if len(tests) == 0 || len(kit) == 0 {
		return nil, fmt.Errorf("no Fiber v2 suite under %s: run v3gen from fiberv3", root)
	}
	for _, f := range kit {
		base := filepath.Base(f)
		jobs = append(jobs, job{from: f, to: filepath.Join("internal", "testkit", base), header: "../../../internal/testkit/" + base})
	}
	return jobs, nil
}

func rewrite(src []byte, j job) ([]byte, error) {
	s := string(src)
	for _, ru := range rules {
		if j.example && skipInExamples[ru.re.String()] {
			continue
		}
		s = ru.re.ReplaceAllString(s, ru.repl)
	}
	// Cut the excluded tests (doc comments included), then the imports
	// nothing uses any more, from the text, so that the rest keeps its
	// layout and comments.
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, j.from, s, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	var cuts [][2]token.Pos
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
			if _, ok := excludedTests[fd.Name.Name]; ok {
				start := fd.Pos()
				if fd.Doc != nil {
					start = fd.Doc.Pos()
				}
				cuts = append(cuts, [2]token.Pos{start, fd.End()})
			}
		}
	}
	if len(cuts) > 0 {
		s = cut(fset, s, cuts)
		fset = token.NewFileSet()
		if f, err = parser.ParseFile(fset, j.from, s, parser.ParseComments); err != nil {
			return nil, err
		}
		used := usedNames(f)
		cuts = cuts[:0]
		for _, is := range f.Imports {
			if name := importName(is); name != "_" && name != "." && !used[name] {
				cuts = append(cuts, [2]token.Pos{is.Pos(), is.End()})
			}
		}
		s = cut(fset, s, cuts)
		fset = token.NewFileSet()
		if f, err = parser.ParseFile(fset, j.from, s, parser.ParseComments); err != nil {
			return nil, err
		}
	}
	fixImports(fset, f)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "// Code generated by v3gen from %s; DO NOT EDIT.\n\n", j.header)
	if err := format.Node(&buf, fset, f); err != nil {
		return nil, err
	}
	return format.Source(buf.Bytes())
}

// cut removes from s the spans (from, to), each with the rest of its last
// line: whole lines, since each starts a line.
func cut(fset *token.FileSet, s string, spans [][2]token.Pos) string {
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		from, to := fset.Position(sp[0]).Offset, fset.Position(sp[1]).Offset
		from = strings.LastIndexByte(s[:from], '\n') + 1
		if i := strings.IndexByte(s[to:], '\n'); i >= 0 {
			to += i + 1
		} else {
			to = len(s)
		}
		b.WriteString(s[last:from])
		last = to
	}
	b.WriteString(s[last:])
	return b.String()
}

// usedNames returns the identifiers f qualifies selectors with.
func usedNames(f *ast.File) map[string]bool {
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				used[id.Name] = true
			}
		}
		return true
	})
	return used
}

// fixImports adds the imports the rules made the file use (in package
// testkit, it drops the qualifier instead).
func fixImports(fset *token.FileSet, f *ast.File) {
	const testkitPath = "github.com/fiber-caches/cache/fiberv3/internal/testkit"
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				if f.Name.Name == "testkit" && id.Name == "testkit" {
					// Inside testkit: NewApp, TrustedProxies unqualified.
					id.Name = "_TESTKIT_"
				}
				used[id.Name] = true
			}
		}
		return true
	})
	if used["_TESTKIT_"] {
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
					if id, ok := sel.X.(*ast.Ident); ok && id.Name == "_TESTKIT_" {
						call.Fun = ast.NewIdent(sel.Sel.Name)
					}
				}
			}
			return true
		})
	}
	// Packages the rules may bring in.
	for name, path := range map[string]string{"testkit": testkitPath, "strconv": "strconv"} {
		has := false
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == path {
				has = true
			}
		}
		if used[name] && !has && f.Name.Name != name {
			addImport(f, path)
		}
	}
	ast.SortImports(fset, f)
}

func addImport(f *ast.File, path string) {
	spec := &ast.ImportSpec{Path: &ast.BasicLit{Kind: token.STRING, Value: strconv.Quote(path)}}
	for _, d := range f.Decls {
		if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.IMPORT {
			// After the last spec, so that it joins the last group.
			if len(gd.Specs) > 0 {
				last := gd.Specs[len(gd.Specs)-1].(*ast.ImportSpec)
				spec.Path.ValuePos = last.End()
			}
			gd.Specs = append(gd.Specs, spec)
			return
		}
	}
	f.Decls = append([]ast.Decl{&ast.GenDecl{Tok: token.IMPORT, Specs: []ast.Spec{spec}}}, f.Decls...)
}

// importName returns the name a file refers to an import by.
func importName(is *ast.ImportSpec) string {
	if is.Name != nil {
		return is.Name.Name
	}
	p, _ := strconv.Unquote(is.Path.Value)
	parts := strings.Split(p, "/")
	name := parts[len(parts)-1]
	if len(parts) > 1 && len(name) > 1 && name[0] == 'v' && strings.Trim(name[1:], "0123456789") == "" {
		name = parts[len(parts)-2]
	}
	switch name {
	case "go-redis":
		return "redis"
	case "fiberv3":
		return "cache"
	}
	return strings.ReplaceAll(name, "-", "")
}
