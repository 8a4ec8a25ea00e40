// Package testserver starts a real botflow server for the tests:
// `botflow serve --host 127.0.0.1 --port 0 --providers fake,openai`, the
// executable being BOTFLOW_BIN or <repo>/.venv/bin/botflow (`make test`
// creates it). The server prints "botflow listening on HOST:PORT" first.
package testserver

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// startup bounds how long the server may take to print its address; it
// only turns a hang into a failure, it measures nothing.
const startup = 60 * time.Second

var listening = regexp.MustCompile(`^botflow listening on (\S+)$`)

// Server is a running botflow child process.
type Server struct {
	Target string
	cmd    *exec.Cmd
	done   chan struct{}
}

// Repo is the repository root (this file is clients/go/internal/testserver).
func Repo() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..")
}

func bin() string {
	if b := os.Getenv("BOTFLOW_BIN"); b != "" {
		return b
	}
	return filepath.Join(Repo(), ".venv", "bin", "botflow")
}

// env drops BOTFLOW_* settings: the vectors assume the server's defaults.
func env(extra []string) []string {
	var kept []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BOTFLOW_") {
			kept = append(kept, kv)
		}
	}
	// No shutdown delay: no balancer watches a test server.
	kept = append(kept, "BOTFLOW_LOG_LEVEL=WARNING", "BOTFLOW_SHUTDOWN_DELAY_SECONDS=0")
	return append(kept, extra...)
}

// Start runs the server with extra `serve` flags and BOTFLOW_* settings.
func Start(args []string, extraEnv []string) (*Server, error) {
	all := append([]string{"serve", "--host", "127.0.0.1", "--port", "0", "--providers", "fake,openai"}, args...)
	cmd := exec.Command(bin(), all...)
	cmd.Env = env(extraEnv)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (run `make test` first, or set BOTFLOW_BIN): %w", bin(), err)
	}
	s := &Server{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	target, err := firstLine(stdout)
	if err != nil {
		s.Stop()
		return nil, err
	}
	s.Target = target
	return s, nil
}

func firstLine(stdout io.Reader) (string, error) {
	found := make(chan string, 1)
	lines := bufio.NewScanner(stdout)
	go func() {
		if lines.Scan() {
			found <- lines.Text()
		} else {
			found <- ""
		}
		// Keep draining so the server never blocks on a full pipe.
		for lines.Scan() {
		}
	}()
	select {
	case line := <-found:
		match := listening.FindStringSubmatch(strings.TrimSpace(line))
		if match == nil {
			return "", fmt.Errorf("unexpected first line %q", line)
		}
		return match[1], nil
	case <-time.After(startup):
		return "", fmt.Errorf("no \"botflow listening on\" within %s", startup)
	}
}

// Stop sends SIGTERM, then SIGKILL if the server has not exited in time.
func (s *Server) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}
