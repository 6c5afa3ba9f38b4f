package main

import (
	"context"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"webkube/web/lessons"
)

// lessonStep is one step as the real dashboard's lesson page shows it.
type lessonStep struct {
	id            string
	done, current bool
	command       string
}

var stepRE = regexp.MustCompile(`(?s)data-testid="lesson-step" data-step="([^"]+)" data-done="(true|false)" data-current="(true|false)">.*?<pre data-testid="lesson-cmd"><code>(.*?)</code></pre>`)

// lessonPage reads a lesson's steps from the dashboard, which checks them against the
// cluster it watches (and records the passes) as it renders.
func (c *cluster) lessonPage(id string) ([]lessonStep, error) {
	body, err := httpGet("http://" + c.addr + "/lessons/" + id)
	if err != nil {
		return nil, err
	}
	var out []lessonStep
	for _, m := range stepRE.FindAllStringSubmatch(body, -1) {
		out = append(out, lessonStep{id: m[1], done: m[2] == "true", current: m[3] == "true", command: html.UnescapeString(m[4])})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no steps on /lessons/%s:\n%s", id, tail(body, 20))
	}
	return out, nil
}

// TestLessonsByKubectl: a learner who only types the kubectl commands a lesson shows (in
// a directory holding the files it shows) finishes every lesson, in order; the dashboard
// ticks each step only once the real cluster got there.
func TestLessonsByKubectl(t *testing.T) {
	c := startCluster(t, "10.236.0.0/16", "wkl")
	dir := t.TempDir()
	for _, l := range lessons.All() {
		for _, s := range l.Steps {
			for _, f := range s.Files {
				if err := os.WriteFile(filepath.Join(dir, f.Name), []byte(f.YAML), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for _, l := range lessons.All() {
		start := time.Now()
		for n := range l.Steps {
			steps, err := c.lessonPage(l.ID)
			if err != nil {
				t.Fatal(err)
			}
			s := steps[n]
			if s.done || !s.current {
				t.Fatalf("%s/%s before its commands: done=%v current=%v (a step must wait for the cluster)", l.ID, s.id, s.done, s.current)
			}
			follow := c.runLessonCommands(t, dir, l.ID+"/"+s.id, s.command)
			c.eventually(90*time.Second, l.ID+"/"+s.id+" ticked", func() (bool, string) {
				steps, err := c.lessonPage(l.ID)
				if err != nil {
					return false, err.Error()
				}
				return steps[n].done, fmt.Sprintf("%+v", steps[n])
			})
			follow()
		}
		t.Logf("lesson %s: %d steps by kubectl in %v", l.ID, len(l.Steps), time.Since(start).Round(100*time.Millisecond))
	}
}

// runLessonCommands runs a step's command lines in dir: each kubectl line, with the "# "
// lines after it typed into it; `logs -f` keeps following in the background, and the
// returned func stops it and checks it printed the lines that came after it started.
func (c *cluster) runLessonCommands(t *testing.T, dir, what, command string) func() {
	t.Helper()
	type cmdLine struct {
		args  []string
		stdin []string
	}
	var cmds []cmdLine
	for _, line := range strings.Split(command, "\n") {
		switch {
		case strings.HasPrefix(line, "# ") && len(cmds) > 0:
			cmds[len(cmds)-1].stdin = append(cmds[len(cmds)-1].stdin, strings.TrimPrefix(line, "# "))
		case strings.HasPrefix(line, "kubectl "):
			cmds = append(cmds, cmdLine{args: shellWords(strings.TrimPrefix(line, "kubectl "))})
		default:
			t.Fatalf("%s: a line that is neither kubectl nor typed into it: %q", what, line)
		}
	}
	var stops []func()
	for _, cl := range cmds {
		args := append([]string{"--kubeconfig", c.kubeconfig, "--cache-dir", c.cacheDir}, cl.args...)
		if strings.Contains(strings.Join(cl.args, " "), "logs -f") {
			ctx, cancel := context.WithCancel(context.Background())
			cmd := exec.CommandContext(ctx, "kubectl", args...)
			cmd.Dir = dir
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			stops = append(stops, func() {
				t.Helper()
				// It follows: what the next commands caused reaches it without a new call.
				c.eventually(10*time.Second, what+": logs -f printed the request made after it started", func() (bool, string) {
					return strings.Contains(out.String(), "GET /hello"), out.String()
				})
				cancel()
				cmd.Wait()
			})
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
		cmd := exec.CommandContext(ctx, "kubectl", args...)
		cmd.Dir = dir
		if cl.stdin != nil {
			cmd.Stdin = strings.NewReader(strings.Join(cl.stdin, "\n") + "\n")
		}
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("%s: kubectl %s: %v\n%s", what, strings.Join(cl.args, " "), err, out)
		}
		t.Logf("%s: kubectl %s\n%s", what, strings.Join(cl.args, " "), tail(strings.TrimSpace(string(out)), 6))
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}

// shellWords splits a command line as sh would for the lessons' commands: on spaces,
// keeping "double-quoted" words whole.
func shellWords(s string) []string {
	var out []string
	var w strings.Builder
	quoted, in := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, in = !quoted, true
		case r == ' ' && !quoted:
			if in {
				out = append(out, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, w.String())
	}
	return out
}
