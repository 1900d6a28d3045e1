package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
)

// crlReloader checks revocation against the CRLs in KEZEKBOT_CRL_DIR and reads the directory
// again every interval: CRLs expire within days, and the operator's job that downloads NCA's
// fresh lists (crl.pki.gov.kz) only has to replace the files. A directory that stops loading
// keeps the last good lists; once they are past nextUpdate the checker fails closed
// (revocation_unknown), so a stale CRL never passes a revoked certificate.
type crlReloader struct {
	dir string
	log *slog.Logger
	cur atomic.Pointer[xmlsig.CRLChecker]
}

func newCRLReloader(dir string, log *slog.Logger) (*crlReloader, error) {
	c, err := xmlsig.LoadCRLDir(dir)
	if err != nil {
		return nil, fmt.Errorf("KEZEKBOT_CRL_DIR: %w", err)
	}
	r := &crlReloader{dir: dir, log: log}
	r.cur.Store(c)
	return r, nil
}

func (r *crlReloader) Check(ctx context.Context, leaf, issuer *x509.Certificate, at time.Time) error {
	return r.cur.Load().Check(ctx, leaf, issuer, at)
}

// run reloads the directory every interval until ctx ends.
func (r *crlReloader) run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := r.reload(); err != nil {
				r.log.Warn("reload CRLs: keeping the previous lists", "dir", r.dir, "err", err)
			}
		}
	}
}

func (r *crlReloader) reload() error {
	c, err := xmlsig.LoadCRLDir(r.dir)
	if err != nil {
		return err
	}
	r.cur.Store(c)
	return nil
}
