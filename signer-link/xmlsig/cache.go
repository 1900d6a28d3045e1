package xmlsig

import (
	"crypto/x509"
	"strconv"
	"sync"
	"time"
)

// What a signature check computes from the signer's certificate alone does not change from
// one document to the next, and parents sign again and again with the same certificate: the
// parsed certificate and, per Verifier, its verified RSA chain are cached. The chain is cached
// with the span of time in which every certificate in it is valid, and reused only for a
// signing time inside that span; outside it (and for anything that failed) the chain is built
// again by crypto/x509, which also words the error. The trust store is fixed for a Verifier's
// life, and the rest of a chain's verification (signatures, CA constraints, extended key
// usages for the given usage) depends only on the certificates, so the cached answer is the
// one crypto/x509 would give at that time.

// maxCachedCerts bounds both caches; when full they start over (a miss costs a parse, ~15 µs,
// and a chain build, ~60 µs).
const maxCachedCerts = 4096

// certCache maps a KeyInfo certificate's base64 text to the parsed certificate.
type certCache struct {
	mu sync.Mutex
	m  map[string]*x509.Certificate
}

var parsedCerts = certCache{m: make(map[string]*x509.Certificate)}

func (c *certCache) get(b64 string) *x509.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[b64]
}

func (c *certCache) put(b64 string, cert *x509.Certificate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedCerts {
		clear(c.m)
	}
	c.m[b64] = cert
}

// chainKey names a verified chain: the leaf (by its DER, as a string key) and the usages
// asked for.
type chainKey struct {
	leaf   string
	usages string
}

type cachedChain struct {
	chain               []*x509.Certificate
	notBefore, notAfter time.Time // every certificate of chain is valid in between
}

type chainCache struct {
	mu sync.Mutex
	m  map[chainKey]cachedChain
}

func newChainCache() *chainCache { return &chainCache{m: make(map[chainKey]cachedChain)} }

func usagesKey(usages []x509.ExtKeyUsage) string {
	var b []byte
	for _, u := range usages {
		b = strconv.AppendInt(b, int64(u), 10)
		b = append(b, ',')
	}
	return string(b)
}

// get returns the chain verified before for leaf and usages if every certificate in it is
// valid at at.
func (c *chainCache) get(leaf *x509.Certificate, usages []x509.ExtKeyUsage, at time.Time) ([]*x509.Certificate, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	e, ok := c.m[chainKey{string(leaf.Raw), usagesKey(usages)}]
	c.mu.Unlock()
	if !ok || at.Before(e.notBefore) || at.After(e.notAfter) {
		return nil, false
	}
	return e.chain, true
}

func (c *chainCache) put(leaf *x509.Certificate, usages []x509.ExtKeyUsage, chain []*x509.Certificate) {
	if c == nil || len(chain) == 0 {
		return
	}
	e := cachedChain{chain: chain, notBefore: chain[0].NotBefore, notAfter: chain[0].NotAfter}
	for _, cert := range chain[1:] {
		if cert.NotBefore.After(e.notBefore) {
			e.notBefore = cert.NotBefore
		}
		if cert.NotAfter.Before(e.notAfter) {
			e.notAfter = cert.NotAfter
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedCerts {
		clear(c.m)
	}
	c.m[chainKey{string(leaf.Raw), usagesKey(usages)}] = e
}
