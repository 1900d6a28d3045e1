package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGate(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "repo")
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	report := write("r.json", `{"Issues":[
		{"rule_id":"G404","file":"`+root+`/bot/sender.go","line":"3","details":"weak rand","severity":"HIGH"},
		{"rule_id":"G115","file":"`+root+`/x.go","line":"9","details":"overflow","severity":"HIGH"}],
		"Golang errors":{}}`)
	for _, tt := range []struct {
		name, excl, wantErr string
	}{
		{"all excused", "G404\tbot/sender.go\tjitter\nG115\tx.go\tbounded\n", ""},
		{"one not excused", "# c\nG404\tbot/sender.go\tjitter\n", "not excused"},
		{"other rule same file", "G101\tbot/sender.go\tx\nG115\tx.go\tbounded\n", "not excused"},
		{"reason missing", "G404\tbot/sender.go\t \n", "with a reason"},
	} {
		err := run(write("e.tsv", tt.excl), root, report, io.Discard)
		if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
	if err := run(write("e.tsv", ""), root, write("bad.json", "{"), io.Discard); err == nil {
		t.Error("a broken report passed")
	}
}
