package conformance

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteText writes the human report: one line per fixture, the details of
// each failure under its line, then [WriteSummary].
func WriteText(w io.Writer, res Result) error {
	for _, fr := range res.Fixtures {
		if err := WriteFixture(w, fr); err != nil {
			return err
		}
	}
	return WriteSummary(w, res)
}

// WriteFixture writes one fixture's line: its status, target, name and
// time, and the skip reason or the failure summary. A failure's step,
// request, reply and problems follow on indented lines.
func WriteFixture(w io.Writer, fr FixtureResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%-4s  %-5s  %-44s %7s", strings.ToUpper(string(fr.Status)), fr.Target, fr.Name, formatDuration(fr.Duration))
	if fr.Reason != "" {
		b.WriteString("  " + fr.Reason)
	}
	b.WriteString("\n")
	if f := fr.Failure; f != nil {
		writeFailure(&b, fr.File, f)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeFailure writes the details of a failure, indented.
func writeFailure(b *strings.Builder, file string, f *Failure) {
	const indent = "      "
	if f.Step > 0 {
		fmt.Fprintf(b, "%sstep %d: %s (%s)\n", indent, f.Step, f.StepName, file)
	} else if f.StepName != "" {
		fmt.Fprintf(b, "%s%s (%s)\n", indent, f.StepName, file)
	}
	block := func(title, text string) {
		if text == "" {
			return
		}
		fmt.Fprintf(b, "%s%s:\n", indent, title)
		for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
			fmt.Fprintf(b, "%s    %s\n", indent, line)
		}
	}
	block("request", f.Request)
	block("reply", f.Reply)
	for _, p := range f.Problems {
		lines := strings.Split(p, "\n")
		fmt.Fprintf(b, "%s  - %s\n", indent, lines[0])
		for _, line := range lines[1:] {
			fmt.Fprintf(b, "%s    %s\n", indent, line)
		}
	}
	block("bridge stderr (last lines)", lastLines(f.Stderr, 20))
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// WriteSummary writes the run's timing and then the summary line, which
// CI reads: "N passed, N failed", followed by ", N skipped" when fixtures
// were skipped, alone on the last line.
func WriteSummary(w io.Writer, res Result) error {
	_, err := fmt.Fprintf(w, "%s\n%s\n", timingLine(res), SummaryLine(res))
	return err
}

// SummaryLine returns "N passed, N failed", with ", N skipped" appended
// when fixtures were skipped.
func SummaryLine(res Result) string {
	line := fmt.Sprintf("%d passed, %d failed", res.Passed, res.Failed)
	if res.Skipped > 0 {
		line += fmt.Sprintf(", %d skipped", res.Skipped)
	}
	return line
}

// timingLine reports the run's wall time with and without deliberate
// waits, and the fixtures per target.
func timingLine(res Result) string {
	counts := map[TargetKind]int{}
	for _, fr := range res.Fixtures {
		counts[fr.Target]++
	}
	var parts []string
	for _, k := range []TargetKind{TargetHTTP, TargetStdio} {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
		}
	}
	return fmt.Sprintf("ran %s fixture runs in %s: %s in deliberate waits (Retry-After), %s without them",
		strings.Join(parts, " + "), formatDuration(res.Duration), formatDuration(res.Waited), formatDuration(res.Duration-res.Waited))
}

// formatDuration prints milliseconds under a second and seconds with two
// decimals above.
func formatDuration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// jsonReport is the document WriteJSON writes.
type jsonReport struct {
	Passed          int           `json:"passed"`
	Failed          int           `json:"failed"`
	Skipped         int           `json:"skipped"`
	DurationSeconds float64       `json:"duration_seconds"`
	WaitedSeconds   float64       `json:"waited_seconds"`
	Fixtures        []jsonFixture `json:"fixtures"`
}

type jsonFixture struct {
	Name            string       `json:"name"`
	Target          TargetKind   `json:"target"`
	File            string       `json:"file"`
	Description     string       `json:"description"`
	Tags            []string     `json:"tags"`
	Status          Status       `json:"status"`
	Reason          string       `json:"reason,omitempty"`
	DurationSeconds float64      `json:"duration_seconds"`
	WaitedSeconds   float64      `json:"waited_seconds"`
	Failure         *jsonFailure `json:"failure,omitempty"`
}

type jsonFailure struct {
	Step     int      `json:"step"`
	StepName string   `json:"step_name"`
	Request  string   `json:"request,omitempty"`
	Reply    string   `json:"reply,omitempty"`
	Problems []string `json:"problems"`
	Stderr   string   `json:"stderr,omitempty"`
}

// WriteJSON writes the result as one indented JSON document with the
// counts, the durations in seconds, and every fixture with its status,
// reason and failure.
func WriteJSON(w io.Writer, res Result) error {
	doc := jsonReport{
		Passed: res.Passed, Failed: res.Failed, Skipped: res.Skipped,
		DurationSeconds: res.Duration.Seconds(), WaitedSeconds: res.Waited.Seconds(),
		Fixtures: make([]jsonFixture, 0, len(res.Fixtures)),
	}
	for _, fr := range res.Fixtures {
		jf := jsonFixture{
			Name: fr.Name, Target: fr.Target, File: fr.File, Description: fr.Description, Tags: fr.Tags,
			Status: fr.Status, Reason: fr.Reason,
			DurationSeconds: fr.Duration.Seconds(), WaitedSeconds: fr.Waited.Seconds(),
		}
		if f := fr.Failure; f != nil {
			jf.Failure = &jsonFailure{Step: f.Step, StepName: f.StepName, Request: f.Request, Reply: f.Reply, Problems: f.Problems, Stderr: f.Stderr}
		}
		doc.Fixtures = append(doc.Fixtures, jf)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// JUnitSuites is the root element of a JUnit XML report, in the form that
// CI systems (Jenkins, GitLab, GitHub actions) read.
type JUnitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []JUnitSuite `xml:"testsuite"`
}

// JUnitSuite holds the fixtures of one target.
type JUnitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []JUnitCase `xml:"testcase"`
}

// JUnitCase is one fixture on one target.
type JUnitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Time      string        `xml:"time,attr"`
	Failure   *JUnitFailure `xml:"failure,omitempty"`
	Skipped   *JUnitSkipped `xml:"skipped,omitempty"`
}

// JUnitFailure is a failed fixture: the summary as its message and the
// full details as its text.
type JUnitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnitSkipped is a skipped fixture and its reason.
type JUnitSkipped struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes the result as JUnit XML: one testsuite per target and
// one testcase per fixture.
func WriteJUnit(w io.Writer, res Result) error {
	doc := JUnitSuites{
		Name: "joai-conformance", Tests: len(res.Fixtures), Failures: res.Failed, Skipped: res.Skipped,
		Time: seconds(res.Duration),
	}
	index := map[TargetKind]int{}
	for _, fr := range res.Fixtures {
		i, ok := index[fr.Target]
		if !ok {
			i = len(doc.Suites)
			index[fr.Target] = i
			doc.Suites = append(doc.Suites, JUnitSuite{Name: string(fr.Target)})
		}
		s := &doc.Suites[i]
		c := JUnitCase{Name: fr.Name, ClassName: "joai-conformance." + string(fr.Target), File: fr.File, Time: seconds(fr.Duration)}
		switch fr.Status {
		case StatusFail:
			var details strings.Builder
			writeFailure(&details, fr.File, fr.Failure)
			c.Failure = &JUnitFailure{Message: fr.Reason, Type: "mismatch", Text: details.String()}
			s.Failures++
		case StatusSkip:
			c.Skipped = &JUnitSkipped{Message: fr.Reason}
			s.Skipped++
		}
		s.Tests++
		s.Cases = append(s.Cases, c)
	}
	for i := range doc.Suites {
		var total time.Duration
		for _, fr := range res.Fixtures {
			if string(fr.Target) == doc.Suites[i].Name {
				total += fr.Duration
			}
		}
		doc.Suites[i].Time = seconds(total)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func seconds(d time.Duration) string {
	return fmt.Sprintf("%.3f", d.Seconds())
}
