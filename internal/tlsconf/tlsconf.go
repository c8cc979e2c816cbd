// Package tlsconf is how scimwatch's clients (Kafka, ClickHouse) are told
// to verify servers and to prove themselves: one config section shape,
// read into a crypto/tls config once.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// Config is a client's tls: section.
type Config struct {
	// CAFile is the PEM bundle servers' certificates are checked against;
	// empty: the system's pool.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a client certificate (mTLS).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name checked in the servers' certificates
	// (default: the host dialled).
	ServerName string `yaml:"server_name"`
}

// Validate reports settings that cannot work together.
func (c Config) Validate() error {
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("tls: cert_file and key_file go together")
	}
	return nil
}

// Load reads the files: a TLS 1.2+ client config that verifies servers.
func (c Config) Load() (*tls.Config, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file: %s holds no PEM certificate", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file, tls.key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
