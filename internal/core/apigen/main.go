// Command apigen writes an adapter's re-export of the engine's public API:
// every exported constant, variable, type, function and method of package
// core that does not depend on the web framework, with its doc comment,
// delegating to core. The names an adapter spells in its own framework's
// types (the skip lists below) it writes by hand.
//
//	go run github.com/fiber-caches/cache/internal/core/apigen -core ../internal/core -o api_gen.go
//
// Both adapters (Fiber v2 at the module's root, Fiber v3 in fiberv3) run it
// through go:generate; CI checks that what is committed is what it writes.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/printer"
	"go/token"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// skipped are the names an adapter writes itself, in its framework's
// types.
var skipped = map[string]bool{
	// types of the framework seam, and those the adapter wraps
	"App": true, "AppConfig": true, "Cache": true, "CacheHelper": true, "Ctx": true,
	"Framework": true, "Router": true, "Storage": true, "HandlerRouter": true,
	// functions taking or giving framework types
	"NewCache": true, "Helper": true, "Tag": true, "Control": true, "Never": true,
	"WithKeyFunc": true, "WithNext": true, "WithStorage": true,
	// for the tests of the adapters only
	"WithClock": true, "WithClockSkew": true,
}

// methods of *core.Cache and *core.CacheHelper the adapter delegates
// as they are; the others it writes itself.
var delegated = map[string]map[string]bool{
	"Cache":       {"InvalidateURL": true, "InvalidateTags": true, "ExpireTags": true, "InvalidateAll": true, "Close": true, "StoreBytes": true, "NearBytes": true},
	"CacheHelper": {"InvalidateURL": true, "InvalidateTags": true, "ExpireTags": true, "InvalidateAll": true},
}

func main() {
	coreDir := flag.String("core", "internal/core", "the directory of package core")
	out := flag.String("o", "api_gen.go", "the file to write")
	pkg := flag.String("pkg", "cache", "the adapter's package name")
	flag.Parse()
	src, err := generate(*coreDir, *pkg)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}

func generate(dir, pkg string) ([]byte, error) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	core := pkgs["core"]
	if core == nil {
		return nil, fmt.Errorf("no package core in %s", dir)
	}
	var files []string
	for name := range core.Files {
		if filepath.Base(name) == "testing.go" {
			continue // hooks for the adapters' tests
		}
		files = append(files, name)
	}
	sort.Strings(files)

	var b bytes.Buffer
	imports := map[string]string{"core": "github.com/fiber-caches/cache/internal/core"}
	node := func(n any) string {
		var s bytes.Buffer
		if err := printer.Fprint(&s, fset, n); err != nil {
			log.Fatal(err)
		}
		return s.String()
	}
	doc := func(g *ast.CommentGroup) {
		if g == nil {
			return
		}
		for _, c := range g.List {
			b.WriteString(c.Text + "\n")
		}
	}
	for _, name := range files {
		f := core.Files[name]
		fileImports := map[string]string{}
		for _, im := range f.Imports {
			path := strings.Trim(im.Path.Value, `"`)
			base := path[strings.LastIndex(path, "/")+1:]
			if im.Name != nil {
				base = im.Name.Name
			}
			if base == "v2" || base == "v9" {
				base = path[strings.LastIndex(path[:strings.LastIndex(path, "/")], "/")+1 : strings.LastIndex(path, "/")]
			}
			fileImports[base] = path
		}
		use := func(expr ast.Node) {
			ast.Inspect(expr, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok {
					if id, ok := sel.X.(*ast.Ident); ok {
						if p, ok := fileImports[id.Name]; ok {
							imports[id.Name] = p
						}
					}
				}
				return true
			})
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if !s.Name.IsExported() || skipped[s.Name.Name] {
							continue
						}
						if s.Doc != nil {
							doc(s.Doc)
						} else {
							doc(d.Doc)
						}
						fmt.Fprintf(&b, "type %s = core.%s\n\n", s.Name.Name, s.Name.Name)
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if !n.IsExported() || skipped[n.Name] {
								continue
							}
							if s.Doc != nil {
								doc(s.Doc)
							} else if len(d.Specs) == 1 {
								doc(d.Doc)
							}
							line := ""
							if s.Comment != nil {
								line = " " + strings.TrimSpace(s.Comment.List[0].Text)
							}
							fmt.Fprintf(&b, "%s %s = core.%s%s\n\n", d.Tok, n.Name, n.Name, line)
						}
					}
				}
			case *ast.FuncDecl:
				name := d.Name.Name
				if !d.Name.IsExported() {
					continue
				}
				recv := ""
				if d.Recv != nil {
					t := d.Recv.List[0].Type
					if st, ok := t.(*ast.StarExpr); ok {
						t = st.X
					}
					recv = t.(*ast.Ident).Name
					if !delegated[recv][name] {
						continue
					}
				} else if skipped[name] {
					continue
				}
				use(d.Type)
				doc(d.Doc)
				sig := node(d.Type)[len("func"):]
				var args []string
				for _, p := range d.Type.Params.List {
					for _, n := range p.Names {
						a := n.Name
						if _, ok := p.Type.(*ast.Ellipsis); ok {
							a += "..."
						}
						args = append(args, a)
					}
				}
				call := fmt.Sprintf("core.%s(%s)", name, strings.Join(args, ", "))
				head := "func " + name + sig
				if recv != "" {
					call = fmt.Sprintf("m.c.%s(%s)", name, strings.Join(args, ", "))
					head = fmt.Sprintf("func (m *%s) %s%s", recv, name, sig)
				}
				if d.Type.Results == nil {
					fmt.Fprintf(&b, "%s { %s }\n\n", head, call)
				} else {
					fmt.Fprintf(&b, "%s { return %s }\n\n", head, call)
				}
			}
		}
	}

	var h bytes.Buffer
	fmt.Fprintf(&h, "// Code generated by apigen; DO NOT EDIT.\n\n// The engine's public API, re-exported: every name of package core that\n// does not depend on the web framework. See internal/core/apigen.\n\npackage %s\n\nimport (\n", pkg)
	var std, other []string
	for alias, p := range imports {
		line := fmt.Sprintf("%q", p)
		if alias != "core" && p != alias && !strings.HasSuffix(p, "/"+alias) {
			line = fmt.Sprintf("%s %q", alias, p)
		}
		if strings.Contains(strings.Split(p, "/")[0], ".") {
			other = append(other, line)
		} else {
			std = append(std, line)
		}
	}
	sort.Strings(std)
	sort.Strings(other)
	for _, p := range std {
		fmt.Fprintf(&h, "\t%s\n", p)
	}
	h.WriteString("\n")
	for _, p := range other {
		fmt.Fprintf(&h, "\t%s\n", p)
	}
	h.WriteString(")\n\n")
	h.Write(b.Bytes())
	return format.Source(h.Bytes())
}
