// Command gosecgate reads gosec's JSON report and fails on every finding that is not excused
// in the exclusions file: one line per rule and file, with the reason, so that each exception
// is reviewed once and stays visible (make check, .ci/run).
//
//	gosec -quiet -fmt json -out gosec.json ./... ; gosecgate -exclusions .gosec-exclusions.tsv gosec.json
//
// The exclusions file has tab-separated lines "RULE<TAB>PATH<TAB>WHY" (PATH relative to the
// repository root); '#' starts a comment. A line without a reason is an error. An exclusion
// that no finding uses is reported, so the list does not rot.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type report struct {
	Issues []struct {
		Rule     string `json:"rule_id"`
		File     string `json:"file"`
		Line     string `json:"line"`
		Details  string `json:"details"`
		Severity string `json:"severity"`
	} `json:"Issues"`
	Errors map[string][]struct {
		Line  int    `json:"line"`
		Error string `json:"error"`
	} `json:"Golang errors"`
}

type key struct{ rule, path string }

func main() {
	excl := flag.String("exclusions", ".gosec-exclusions.tsv", "the excused findings: RULE<TAB>PATH<TAB>WHY per line")
	root := flag.String("root", ".", "the repository root the report's paths are relative to")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: gosecgate [-exclusions FILE] [-root DIR] GOSEC_JSON")
		os.Exit(2)
	}
	if err := run(*excl, *root, flag.Arg(0), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gosecgate:", err)
		os.Exit(1)
	}
}

func run(exclPath, root, reportPath string, out io.Writer) error {
	allowed, err := readExclusions(exclPath)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(reportPath) // #nosec G304 -- a path given on our own command line
	if err != nil {
		return fmt.Errorf("read report: %w", err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("decode report %s: %w", reportPath, err)
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("root: %w", err)
	}
	used := map[key]bool{}
	var bad []string
	for _, is := range rep.Issues {
		rel, err := filepath.Rel(absRoot, is.File)
		if err != nil || strings.HasPrefix(rel, "..") {
			rel = is.File
		}
		k := key{is.Rule, filepath.ToSlash(rel)}
		if _, ok := allowed[k]; ok {
			used[k] = true
			continue
		}
		bad = append(bad, fmt.Sprintf("%s:%s: %s (%s) %s", k.path, is.Line, is.Rule, is.Severity, is.Details))
	}
	for k := range allowed {
		if !used[k] {
			fmt.Fprintf(out, "gosecgate: note: exclusion %s %s matches no finding any more; remove it\n", k.rule, k.path)
		}
	}
	var loadErrs []string
	for file, errs := range rep.Errors {
		for _, e := range errs {
			loadErrs = append(loadErrs, fmt.Sprintf("%s:%d: %s", file, e.Line, e.Error))
		}
	}
	sort.Strings(bad)
	sort.Strings(loadErrs)
	fmt.Fprintf(out, "gosecgate: %d findings, %d excused (%s), %d not excused, %d load errors\n",
		len(rep.Issues), len(rep.Issues)-len(bad), exclPath, len(bad), len(loadErrs))
	for _, l := range append(bad, loadErrs...) {
		fmt.Fprintln(out, "  "+l)
	}
	if len(bad) > 0 || len(loadErrs) > 0 {
		return errors.New("gosec findings not excused: fix them, or add a line with the reason to " + exclPath)
	}
	return nil
}

func readExclusions(path string) (map[key]string, error) {
	f, err := os.Open(path) // #nosec G304 -- a path given on our own command line
	if err != nil {
		return nil, fmt.Errorf("read exclusions: %w", err)
	}
	defer f.Close()
	m := map[key]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) != 3 || strings.TrimSpace(parts[2]) == "" {
			return nil, fmt.Errorf("%s:%d: want RULE<TAB>PATH<TAB>WHY, with a reason", path, n)
		}
		m[key{strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1])}] = strings.TrimSpace(parts[2])
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read exclusions: %w", err)
	}
	return m, nil
}
