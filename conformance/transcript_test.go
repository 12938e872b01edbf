package conformance

import (
	"flag"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the mock's replies")

// transcriptRun selects the fixtures whose replies do not depend on
// timing, so that their golden transcripts are stable.
var transcriptRun = regexp.MustCompile(`^(tools|resources|lifecycle|get|errors|jsonrpc)-`)

// TestGoldenTranscripts compares what the mock replies to each fixture with
// the transcripts in testdata/golden, so that a change in the mock's wire
// format shows up as a diff. Run with -update to accept a change.
func TestGoldenTranscripts(t *testing.T) {
	srv := startMock(t)
	res, err := Run(t.Context(), &Options{HTTP: MockHTTPTarget(srv), Record: true, Run: transcriptRun})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "golden")
	got := GoldenFiles(res)
	if *update {
		if _, err := WriteGolden(dir, got); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := ReadGolden(dir)
	if err != nil {
		t.Fatalf("%v (create them with go test ./conformance -run TestGoldenTranscripts -update)", err)
	}
	byName := map[string]Golden{}
	for _, g := range want {
		byName[g.Fixture] = g
	}
	for _, g := range got {
		w, ok := byName[g.Fixture]
		if !ok {
			t.Errorf("no transcript for %s: run go test ./conformance -run TestGoldenTranscripts -update", g.Fixture)
			continue
		}
		delete(byName, g.Fixture)
		if problems := CompareGolden(w, g, false); len(problems) > 0 {
			t.Errorf("%s differs from testdata/golden (accept with -update):\n%s", g.Fixture, strings.Join(problems, "\n"))
		}
	}
	for name := range byName {
		t.Errorf("transcript %s has no fixture any more: run with -update", name)
	}
}
