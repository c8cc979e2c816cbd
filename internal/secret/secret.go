// Package secret reads scimwatch's secrets (passwords, tokens, connection
// strings) from where they may be: an environment variable or a file,
// never the config file, flags or logs.
package secret

import (
	"fmt"
	"os"
	"strings"
)

// Read returns the secret in the environment variable env or, when env
// is empty, in file (trailing newlines cut). An error names the key and
// the variable or file, never the secret.
func Read(key, env, file string) (string, error) {
	switch {
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return "", fmt.Errorf("%s: $%s is not set", key, env)
		}
		return v, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s: %w", key, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("%s: %s is empty", key, file)
		}
		return v, nil
	}
	return "", fmt.Errorf("%s: no _env or _file says where the secret is", key)
}
