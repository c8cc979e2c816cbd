package okta

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// assertion is a token source for Okta's client credentials flow with
// private_key_jwt: each token request carries a new assertion, signed
// with the app's private key, as Okta documents for service apps.
type assertion struct {
	o        OAuth
	tokenURL string
	key      crypto.Signer
	method   jwt.SigningMethod
	hc       *http.Client
}

func newAssertion(o OAuth, tokenURL string, hc *http.Client) (*assertion, error) {
	b, err := os.ReadFile(o.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("oauth.private_key_file: %w", err)
	}
	key, err := parseKey(b)
	if err != nil {
		return nil, fmt.Errorf("oauth.private_key_file %s: %w", o.PrivateKeyFile, err)
	}
	a := &assertion{o: o, tokenURL: tokenURL, key: key, hc: hc}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		a.method = jwt.SigningMethodRS256
	case *ecdsa.PrivateKey:
		switch k.Curve.Params().BitSize {
		case 256:
			a.method = jwt.SigningMethodES256
		case 384:
			a.method = jwt.SigningMethodES384
		default:
			a.method = jwt.SigningMethodES512
		}
	default:
		return nil, errors.New("oauth.private_key_file: an RSA or EC key, please")
	}
	return a, nil
}

func parseKey(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	return nil, errors.New("not a PKCS#8, PKCS#1 or EC private key")
}

// Token gets a new access token.
func (a *assertion) Token() (*oauth2.Token, error) {
	now := time.Now()
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	claims := jwt.RegisteredClaims{Issuer: a.o.ClientID, Subject: a.o.ClientID, Audience: jwt.ClaimStrings{a.tokenURL},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)), ID: hex.EncodeToString(jti)}
	t := jwt.NewWithClaims(a.method, claims)
	if a.o.KeyID != "" {
		t.Header["kid"] = a.o.KeyID
	}
	signed, err := t.SignedString(a.key)
	if err != nil {
		return nil, fmt.Errorf("signing the client assertion: %w", err)
	}
	cc := clientcredentials.Config{ClientID: a.o.ClientID, TokenURL: a.tokenURL, Scopes: a.o.Scopes, AuthStyle: oauth2.AuthStyleInParams,
		EndpointParams: url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {signed}}}
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), oauth2.HTTPClient, a.hc), time.Minute)
	defer cancel()
	return cc.Token(ctx)
}
