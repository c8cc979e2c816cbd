package testenv

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

//go:embed chdb_runner.py
var chdbRunner []byte

// CurrentClickHouse is a ClickHouse 26 session (chDB, in-process in a
// Python of its own, .ci/chdb.sh) taking one statement at a time, its
// data in a directory of the test's own: the tests run the statements
// scimwatch sends to 18.16 on it as well.
type CurrentClickHouse struct {
	mu  sync.Mutex
	in  io.WriteCloser
	out *bufio.Reader
}

// OpenCurrentClickHouse starts a session, stopped at the end of the test.
func OpenCurrentClickHouse(t testing.TB) *CurrentClickHouse {
	t.Helper()
	py := CHDB(t)
	dir := t.TempDir()
	runner := filepath.Join(dir, "chdb_runner.py")
	if err := os.WriteFile(runner, chdbRunner, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, runner, filepath.Join(dir, "data"))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); _ = cmd.Wait() })
	return &CurrentClickHouse{in: in, out: bufio.NewReaderSize(out, 1<<20)}
}

type chdbAnswer struct {
	Rows  [][]any `json:"rows"`
	Text  string  `json:"text"`
	Error string  `json:"error"`
}

func (c *CurrentClickHouse) do(sql, format string) (chdbAnswer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ans chdbAnswer
	b, _ := json.Marshal(map[string]string{"sql": sql, "format": format})
	if _, err := c.in.Write(append(b, '\n')); err != nil {
		return ans, err
	}
	line, err := c.out.ReadBytes('\n')
	if err != nil {
		return ans, fmt.Errorf("chdb runner: %w", err)
	}
	if err := json.Unmarshal(line, &ans); err != nil {
		return ans, err
	}
	if ans.Error != "" {
		return ans, errors.New(ans.Error)
	}
	return ans, nil
}

// Query runs one statement and returns its rows as JSONCompact gives them.
func (c *CurrentClickHouse) Query(sql string) ([][]any, error) {
	ans, err := c.do(sql, "JSONCompact")
	return ans.Rows, err
}

// Text runs one statement and returns its result as TabSeparated.
func (c *CurrentClickHouse) Text(sql string) (string, error) {
	ans, err := c.do(sql, "TabSeparated")
	return ans.Text, err
}
