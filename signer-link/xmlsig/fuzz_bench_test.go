package xmlsig_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
)

// FuzzVerify: whatever the input, Verify returns a result or an error and never panics; an
// accepted document must come with the whole result.
func FuzzVerify(f *testing.F) {
	e := mustEnv(f)
	signed := mustSign(f, unsignedDoc, e.auth)
	sig := signatureOf(f, signed)
	f.Add([]byte(signed))
	f.Add([]byte(mustSign(f, unsignedDoc, e.sign)))
	f.Add([]byte(strings.Replace(signed, "bind", "revoke", 1)))
	f.Add([]byte(strings.Replace(signed, sig, sig+sig, 1)))
	f.Add([]byte(strings.Replace(signed, `URI=""`, `URI="#x"`, 1)))
	f.Add([]byte(strings.Replace(signed, "rsa-sha256", "rsa-sha1", 1)))
	f.Add([]byte(strings.Replace(signed, "?>", "?><!DOCTYPE a [<!ENTITY b \"c\">]>", 1)))
	f.Add([]byte(strings.ReplaceAll(signed, "\n", "&#13;\n")))
	f.Add([]byte("<a/>"))
	f.Add([]byte(""))
	if dir := samplesDirIfPresent(); dir != "" {
		for _, name := range []string{"ncanode_xmlservicetest_sign.xml", "danikarik_org_active_gost.xml", "ncanode_xmlservicetest_two_signers_rsa_gost2015.xml", "malikzh_v230_docs_prodnca_auth.xml"} {
			if b, err := os.ReadFile(filepath.Join(dir, "cases", name)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		for _, u := range []xmlsig.Usage{xmlsig.UsageAuth, xmlsig.UsageAny} {
			res, err := e.verifier.Verify(context.Background(), doc, xmlsig.Policy{Usage: u})
			if err == nil && (res == nil || res.SignedElement == nil || len(res.Canonical) == 0 || res.IIN == "") {
				t.Fatalf("accepted with an incomplete result: %+v", res)
			}
			if err != nil && xmlsig.ReasonOf(err) == "" {
				t.Fatalf("internal error for input: %v", err)
			}
		}
	})
}

func samplesDirIfPresent() string {
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; filepath.Dir(dir) != dir; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			s := filepath.Join(dir, "..", "shared", "testdata", "ncalayer-samples")
			if _, err := os.Stat(s); err == nil {
				return s
			}
			return ""
		}
	}
	return ""
}

// benchDoc is a signed document of about 2 KiB, like a kezekbot revoke request.
func benchDoc(b *testing.B) (*env, []byte) {
	e := mustEnv(b)
	doc := strings.Replace(unsignedDoc, "<action>bind</action>", "<action>revoke</action><application>1234567</application><referral>7654321</referral><reason>"+strings.Repeat("Отказ от направления. ", 10)+"</reason>", 1)
	signed := []byte(mustSign(b, doc, e.sign))
	if _, err := e.verifier.Verify(context.Background(), signed, xmlsig.Policy{Usage: xmlsig.UsageSign, IIN: xmlsigtest.DefaultIIN}); err != nil {
		b.Fatal(err)
	}
	return e, signed
}

// BenchmarkVerify: the whole check (parse, structure, chain to the root, goxmldsig) of a
// ~2 KiB signed document.
func BenchmarkVerify(b *testing.B) {
	e, signed := benchDoc(b)
	p := xmlsig.Policy{Usage: xmlsig.UsageSign, IIN: xmlsigtest.DefaultIIN}
	ctx := context.Background()
	b.SetBytes(int64(len(signed)))
	b.ReportAllocs()
	start, cpu := time.Now(), processCPU()
	for b.Loop() {
		if _, err := e.verifier.Verify(ctx, signed, p); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, start, cpu)
}

// BenchmarkVerifyParallel: the same on all CPUs, as the HTTP handler runs it.
func BenchmarkVerifyParallel(b *testing.B) {
	e, signed := benchDoc(b)
	p := xmlsig.Policy{Usage: xmlsig.UsageSign, IIN: xmlsigtest.DefaultIIN}
	b.SetBytes(int64(len(signed)))
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), processCPU()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := e.verifier.Verify(ctx, signed, p); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRates(b, start, cpu)
}

// BenchmarkVerifyRejectDTD: a billion-laughs document is refused without parsing.
func BenchmarkVerifyRejectDTD(b *testing.B) {
	e := mustEnv(b)
	doc := []byte(`<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>`)
	for b.Loop() {
		if _, err := e.verifier.Verify(context.Background(), doc, xmlsig.Policy{Usage: xmlsig.UsageAuth}); xmlsig.ReasonOf(err) != xmlsig.ReasonDTD {
			b.Fatal(err)
		}
	}
}

// reportRates reports verifications per wall-clock second and the CPU time per verification
// (process user+system time, GC included), which stays meaningful when other jobs load the
// machine.
func reportRates(b *testing.B, start time.Time, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "verifications/s")
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	}
}
