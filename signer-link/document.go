package signerlink

import (
	"fmt"
	"strconv"
	"time"

	"github.com/beevik/etree"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
)

// Namespace of the documents we issue. The root is namespaced so that a signature over some
// other kind of XML can never pass for ours; the children are unqualified to keep it readable
// in NCALayer's preview.
const (
	docNamespace = "urn:kezekbot:v1"
	docPrefix    = "kezekbot"
	docRoot      = "request"
)

// docInput is everything a document states. The human text is part of it: what the parent
// reads in NCALayer is what they sign.
type docInput struct {
	Action       kezekbot.Action
	ChatID       int64
	Lang         flows.Lang
	IIN          kezekbot.IIN // revoke only; unknown before bind
	AppID        int64
	AppNumber    string
	RefID        int64
	Kindergarten string
	Reason       string
	TgName       string // bind: the Telegram account being bound
	TgUser       string
	Nonce        string
	IssuedAt     time.Time
	Expires      time.Time
	Text         string
}

// issuedDoc is the XML handed to NCALayer and its C14N 1.0 form, the only bytes a signature
// will be accepted over.
type issuedDoc struct {
	XML       []byte
	Canonical []byte
}

// buildDocument renders the request with etree, which escapes every text and attribute, so a
// reason like `</reason><action>bind` stays text.
func buildDocument(in docInput) (issuedDoc, error) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	root := doc.CreateElement(docPrefix + ":" + docRoot)
	root.CreateAttr("xmlns:"+docPrefix, docNamespace)
	root.CreateAttr("version", "1")

	add := func(tag, text string) *etree.Element {
		e := root.CreateElement(tag)
		e.SetText(text)
		return e
	}
	add("action", string(in.Action))
	add("chat", strconv.FormatInt(in.ChatID, 10))
	switch in.Action {
	case kezekbot.ActionBind:
		add("telegramName", in.TgName)
		add("telegramUsername", in.TgUser)
	case kezekbot.ActionRevoke:
		app := add("application", strconv.FormatInt(in.AppID, 10))
		app.CreateAttr("number", in.AppNumber)
		add("referral", strconv.FormatInt(in.RefID, 10))
		add("kindergarten", in.Kindergarten)
		add("reason", in.Reason)
		add("iin", in.IIN.Digits())
	default:
		return issuedDoc{}, fmt.Errorf("build document: unknown action %q", in.Action)
	}
	add("nonce", in.Nonce)
	add("issuedAt", in.IssuedAt.UTC().Format(time.RFC3339))
	add("expiresAt", in.Expires.UTC().Format(time.RFC3339))
	text := add("text", in.Text)
	text.CreateAttr("lang", string(in.Lang))

	// No indentation: whitespace between elements would be part of the signed content and one
	// more thing for a signer to reformat.
	doc.WriteSettings.CanonicalText = true
	doc.WriteSettings.CanonicalAttrVal = true
	xml, err := doc.WriteToBytes()
	if err != nil {
		return issuedDoc{}, fmt.Errorf("build document: write: %w", err)
	}
	canon, err := canonicalize(xml)
	if err != nil {
		return issuedDoc{}, fmt.Errorf("build document: %w", err)
	}
	return issuedDoc{XML: xml, Canonical: canon}, nil
}

// canonicalize is xmlsig's C14N of the root of an unsigned document: the very function whose
// output Result.Canonical is compared with, so the two sides cannot drift apart. Parsing what
// we wrote (rather than canonicalising the tree we built) makes sure we compare against what
// the signer actually received.
func canonicalize(xml []byte) ([]byte, error) {
	return xmlsig.Canonicalize(xml)
}
